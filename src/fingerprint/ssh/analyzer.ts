/**
 * JA4SSH for connections to or from TCP port 22: each window of SSH packets (200 by default, the
 * engine's `sshWindowPackets`) gives one fingerprint, and the last, partial window is flushed when
 * the connection ends. Records carry HASSH, HASSH-server, both banners and the chosen cipher.
 */
import type { Flow } from '../../capture/flow-table.js';
import { Packet, PROTO_TCP, TCP_ACK } from '../../capture/packet.js';
import type { Analyzer, AnalyzerContext, AnalyzerFactory, EngineOptions } from '../analyzer.js';
import { Ja4sshWindow } from '../ja4ssh.js';
import { SshDirectionTracker, SshSession } from './dissector.js';

export const SSH_PORT = 22;

interface SshFlowState {
  session: SshSession;
  /** [0] client → server, [1] server → client. */
  dirs: [SshDirectionTracker, SshDirectionTracker];
  window: Ja4sshWindow;
  lastFrame: number;
}

export class SshAnalyzer implements Analyzer {
  readonly name = 'ssh';
  readonly methods = ['ja4ssh'] as const;
  readonly packetTransports = ['tcp'] as const;
  private readonly windowPackets: number;

  constructor(options: EngineOptions) {
    this.windowPackets = options.sshWindowPackets > 0 ? options.sshWindowPackets : 200;
  }

  onPacket(pkt: Packet, flow: Flow, fromClient: boolean, ctx: AnalyzerContext): void {
    if (pkt.proto !== PROTO_TCP || (pkt.srcPort !== SSH_PORT && pkt.dstPort !== SSH_PORT)) return;
    let st = flow.state[ctx.slot] as SshFlowState | undefined;
    if (st === undefined) {
      st = { session: new SshSession(), dirs: [new SshDirectionTracker(), new SshDirectionTracker()], window: new Ja4sshWindow(), lastFrame: 0 };
      flow.state[ctx.slot] = st;
    }
    st.lastFrame = pkt.frame;
    // The dissector tells the server's side by the destination port, as Wireshark does.
    const isResponse = pkt.dstPort !== SSH_PORT;
    const hasSsh = pkt.payloadLen > 0 &&
      st.dirs[fromClient ? 0 : 1].segment(st.session, pkt.seq, pkt.payload, pkt.frame, isResponse);
    if (hasSsh) {
      st.window.sshPacket(fromClient, pkt.payloadLen);
      if (st.window.packets >= this.windowPackets) this.flush(flow, st, pkt.frame, ctx);
    } else if (pkt.tcpFlags === TCP_ACK) {
      st.window.ack(fromClient);
    }
  }

  onFlowEnd(flow: Flow, ctx: AnalyzerContext): void {
    const st = flow.state[ctx.slot] as SshFlowState | undefined;
    if (st !== undefined) this.flush(flow, st, st.lastFrame, ctx);
  }

  private flush(flow: Flow, st: SshFlowState, frame: number, ctx: AnalyzerContext): void {
    const value = st.window.fingerprint();
    st.window.reset();
    if (value === null) return;
    if (!ctx.options.details) { ctx.emit(flow, 'ja4ssh', value, frame); return; }
    const s = st.session;
    const extra: Record<string, unknown> = {};
    if (s.hassh !== null) extra.hassh = s.hassh;
    if (s.hasshServer !== null) extra.hassh_server = s.hasshServer;
    if (s.clientBanner !== null) extra.ssh_protocol_client = s.clientBanner;
    if (s.serverBanner !== null) extra.ssh_protocol_server = s.serverBanner;
    const enc = s.encryptionAlgorithm;
    if (enc !== null) extra.encryption_algorithm = enc;
    ctx.emit(flow, 'ja4ssh', value, frame, extra);
  }
}

export const createSshAnalyzer: AnalyzerFactory = (options) => new SshAnalyzer(options);
