/**
 * The QUIC analyzer (UDP): decrypts Initial packets (v1, v2), reassembles the CRYPTO stream and
 * emits JA4 and JA4S with the `q` prefix; with key-log secrets it also decrypts Handshake packets
 * (JA4X of the certificates) and 1-RTT packets (HTTP/3 requests, see ./http3.ts).
 */
import type { Flow } from '../../capture/flow-table.js';
import { PROTO_UDP, type Packet } from '../../capture/packet.js';
import type { Analyzer, AnalyzerContext, EngineOptions } from '../analyzer.js';
import { SecretsStore } from '../decrypt/secrets.js';
import { HandshakeEmitter } from '../tls/emit.js';
import { SECRETS_TLS_KEYLOG } from '../tls/analyzer.js';
import { QuicConnection, type QuicEvents } from './connection.js';
import { Http3Requests } from './http3.js';
import { HTTP3_JA4H } from './http3-ja4h.js';
import type { HeaderField, HuffmanDecoder } from './qpack.js';

/**
 * What HTTP/3 fingerprinting needs from the HTTP family: the Huffman decoder HPACK and QPACK share,
 * and JA4H of a decoded request header list (version "30").
 */
export interface Http3Hooks {
  huffman: HuffmanDecoder;
  ja4h(fields: HeaderField[]): { value: string; extra?: Record<string, unknown> } | null;
}

class QuicFlowState extends HandshakeEmitter implements QuicEvents {
  readonly conn: QuicConnection;
  private requests: Http3Requests | null = null;

  constructor(flow: Flow, secrets: SecretsStore, private readonly http3: Http3Hooks | null) {
    super(flow, true);
    this.conn = new QuicConnection(this, secrets);
    if (!http3) this.streamData = undefined;
  }

  /** 1-RTT stream bytes (only with secrets): requests travel on client-initiated bidirectional streams. */
  streamData?(fromClient: boolean, streamId: number, data: Buffer, fin: boolean): void {
    if (!fromClient || (streamId & 3) !== 0 || !this.ctx!.enabled('ja4h')) return;
    const hooks = this.http3!;
    this.requests ??= new Http3Requests((_id, fields) => {
      const r = hooks.ja4h(fields);
      if (r) this.ctx!.emit(this.flow, 'ja4h', r.value, this.pkt!.frame, r.extra);
    }, hooks.huffman);
    this.requests.push(streamId, data, fin);
  }
}

export function createQuicAnalyzer(_options?: EngineOptions, secrets = new SecretsStore(), http3: Http3Hooks | null = HTTP3_JA4H): Analyzer {
  return {
    name: 'quic',
    methods: http3 ? ['ja4', 'ja4s', 'ja4x', 'ja4h'] : ['ja4', 'ja4s', 'ja4x'],
    packetTransports: ['udp'],
    onPacket(pkt: Packet, flow: Flow, fromClient: boolean, ctx: AnalyzerContext): void {
      if (pkt.proto !== PROTO_UDP || pkt.payloadLen < 21) return;
      let st = flow.state[ctx.slot] as QuicFlowState | null | undefined;
      if (st === null) return;
      if (st === undefined) {
        // Only a long-header packet can start what we can read; anything else marks the flow not-QUIC.
        if ((pkt.data[pkt.payloadOff] & 0xc0) !== 0xc0) { flow.state[ctx.slot] = null; return; }
        st = new QuicFlowState(flow, secrets, http3);
        flow.state[ctx.slot] = st;
      }
      st.pkt = pkt;
      st.ctx = ctx;
      try {
        st.conn.onDatagram(fromClient, pkt.data, pkt.payloadOff, pkt.payloadLen);
      } catch {
        st.conn.notQuic = true; // a parser bug on hostile input must not take the sensor down
      }
      st.pkt = null;
      if (st.conn.done) flow.state[ctx.slot] = null;
    },
    onSecrets(secretsType: number, data: Buffer): void {
      if (secretsType === SECRETS_TLS_KEYLOG) secrets.addKeyLogText(data.toString('latin1'));
    },
  };
}
