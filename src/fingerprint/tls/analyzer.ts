/**
 * The TLS-over-TCP analyzer: feeds each direction's reassembled bytes to a TlsSession and emits
 * JA4 (ClientHello), JA4S (ServerHello) and JA4X (every certificate of every chain). With key-log
 * secrets (pcapng DSB or --keylog) it decrypts the connection, which adds TLS 1.3 certificates
 * and hands application plaintext (HTTP/2, HTTP/1.x) to the analyzers that read it.
 * Once neither direction can tell more, it tells the engine to stop reassembling for it.
 */
import type { Flow } from '../../capture/flow-table.js';
import type { Packet } from '../../capture/packet.js';
import type { Analyzer, AnalyzerContext, EngineOptions } from '../analyzer.js';
import { SecretsStore } from '../decrypt/secrets.js';
import { TlsSession } from './session.js';
import { HandshakeEmitter } from './emit.js';

/** pcapng DSB secrets type of an NSS key log ("TLSK"). */
export const SECRETS_TLS_KEYLOG = 0x544c534b;

class TlsFlowState {
  readonly emitter: HandshakeEmitter;
  readonly session: TlsSession;

  constructor(flow: Flow, secrets: SecretsStore) {
    this.emitter = new HandshakeEmitter(flow, false);
    this.session = new TlsSession(this.emitter, secrets);
  }
}

/** Whether a stream's first bytes are an SSH identification string ("SSH-2.0-...", RFC 4253 §4.2). */
function startsSsh(buf: Buffer, off: number, len: number): boolean {
  return len >= 4 && buf[off] === 0x53 && buf[off + 1] === 0x53 && buf[off + 2] === 0x48 && buf[off + 3] === 0x2d;
}

export function createTlsAnalyzer(_options?: EngineOptions, secrets = new SecretsStore()): Analyzer {
  return {
    name: 'tls',
    methods: ['ja4', 'ja4s', 'ja4x'],
    wantsStream: true,
    onStream(flow: Flow, fromClient: boolean, buf: Buffer, off: number, len: number, gap: boolean, pkt: Packet, ctx: AnalyzerContext): void {
      let st = flow.state[ctx.slot] as TlsFlowState | null | undefined;
      if (st === null) return;
      if (st === undefined) {
        if (startsSsh(buf, off, len)) {
          // An SSH connection never turns into TLS: without this, the search for a ClientHello
          // after a preamble (STARTTLS) read its first 16 KiB each way, segment by segment.
          ctx.streamDone(flow);
          flow.state[ctx.slot] = null;
          return;
        }
        st = new TlsFlowState(flow, secrets);
        flow.state[ctx.slot] = st;
      }
      const s = st.session;
      if (gap) s.gap(fromClient);
      st.emitter.pkt = pkt;
      st.emitter.ctx = ctx;
      try {
        s.push(fromClient, buf, off, len);
      } catch {
        // Parsers are bounds-checked; this only guards the sensor against a bug on hostile input.
        s.abandon();
      }
      st.emitter.pkt = null;
      if (s.directionDone(true) && s.directionDone(false)) {
        ctx.streamDone(flow);
        s.release();
        flow.state[ctx.slot] = null; // release the session and its buffers
      }
    },
    onSecrets(secretsType: number, data: Buffer): void {
      if (secretsType === SECRETS_TLS_KEYLOG) secrets.addKeyLogText(data.toString('latin1'));
    },
  };
}
