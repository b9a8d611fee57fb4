/** The engine hands each analyzer's onPacket only the transports it declares (a call per packet adds up). */
import type { Analyzer, AnalyzerFactory } from '../../src/fingerprint/analyzer.js';
import { FingerprintEngine } from '../../src/fingerprint/engine.js';
import { PROTO_TCP, PROTO_UDP } from '../../src/capture/packet.js';
import { tcpFrame, udpFrame } from '../helpers/packets.js';

test('onPacket sees only the declared transports; undeclared means both', () => {
  const seen: Record<string, number[]> = { tcpOnly: [], udpOnly: [], both: [] };
  const probe = (name: keyof typeof seen, packetTransports?: ('tcp' | 'udp')[]): AnalyzerFactory => () => ({
    name,
    methods: ['ja4'],
    ...(packetTransports ? { packetTransports } : {}),
    onPacket: (pkt) => void seen[name]!.push(pkt.proto),
  } as Analyzer);
  const engine = new FingerprintEngine(() => {}, { factories: [probe('tcpOnly', ['tcp']), probe('udpOnly', ['udp']), probe('both')] });
  const frames = [tcpFrame({ sport: 40000, dport: 443, flags: 0x02 }), udpFrame({ sport: 40001, dport: 53 }), tcpFrame({ sport: 40000, dport: 443, flags: 0x10 })];
  frames.forEach((data, i) => engine.handleFrame({ frame: i + 1, tsUs: 1_000_000 + i, linkType: 1, interfaceId: 0, data, origLen: data.length }));
  expect(seen).toEqual({ tcpOnly: [PROTO_TCP, PROTO_TCP], udpOnly: [PROTO_UDP], both: [PROTO_TCP, PROTO_UDP, PROTO_TCP] });
});
