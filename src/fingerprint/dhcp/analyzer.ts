/** JA4D for every DHCPv4 (UDP 67/68) and DHCPv6 (UDP 546/547) message, each fingerprinted on its own. */
import type { Flow } from '../../capture/flow-table.js';
import { Packet, PROTO_UDP } from '../../capture/packet.js';
import type { Analyzer, AnalyzerContext, AnalyzerFactory } from '../analyzer.js';
import { ja4dV4 } from './dhcpv4.js';
import { ja4dV6 } from './dhcpv6.js';

export class DhcpAnalyzer implements Analyzer {
  readonly name = 'dhcp';
  readonly methods = ['ja4d'] as const;
  readonly packetTransports = ['udp'] as const;

  onPacket(pkt: Packet, flow: Flow, _fromClient: boolean, ctx: AnalyzerContext): void {
    if (pkt.proto !== PROTO_UDP) return;
    const sp = pkt.srcPort;
    const dp = pkt.dstPort;
    let value: string | null = null;
    if ((sp === 67 || sp === 68) && (dp === 67 || dp === 68)) {
      value = ja4dV4(pkt.data, pkt.payloadOff, pkt.payloadLen);
    } else if ((sp === 546 || sp === 547) && (dp === 546 || dp === 547)) {
      value = ja4dV6(pkt.data, pkt.payloadOff, pkt.payloadLen);
    }
    if (value !== null) ctx.emit(flow, 'ja4d', value, pkt.frame);
  }
}

export const createDhcpAnalyzer: AnalyzerFactory = () => new DhcpAnalyzer();
