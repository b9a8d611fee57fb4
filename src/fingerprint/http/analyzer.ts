/**
 * JA4H for every HTTP request a client sends: HTTP/1.x and HTTP/2 (prior knowledge or h2c upgrade)
 * in cleartext TCP streams, and the same in decrypted TLS application data handed over by the TLS
 * analyzer (`onPlaintext`, with the negotiated ALPN). Server bytes are never read.
 */
import type { Flow } from '../../capture/flow-table.js';
import type { Packet } from '../../capture/packet.js';
import type { Analyzer, AnalyzerContext, AnalyzerFactory } from '../analyzer.js';
import { ja4h, ja4hInputFromHeaderList, ja4hInputFromHttp1, type Ja4hInput, type Http1Request } from '../ja4h.js';
import type { HeaderField } from './hpack.js';
import { Http1RequestReader } from './http1.js';
import { Http2ClientReader } from './http2.js';

/** One client byte stream (the raw TCP stream, or the decrypted one). */
class ClientStream {
  h1: Http1RequestReader | null;
  h2: Http2ClientReader | null;
  done = false;

  constructor(http2: boolean) {
    this.h1 = http2 ? null : new Http1RequestReader();
    this.h2 = http2 ? new Http2ClientReader(true) : null;
  }

  push(bytes: Buffer, onRequest: (input: Ja4hInput | null) => void): void {
    if (this.done) return;
    if (this.h1 !== null) {
      const outcome = this.h1.push(bytes, (req: Http1Request) => onRequest(ja4hInputFromHttp1(req)));
      if (outcome === 'continue') return;
      if (outcome === 'stopped') {
        this.finish();
        return;
      }
      // The client switched to HTTP/2 on this connection.
      const leftover = this.h1.http2Leftover;
      this.h1 = null;
      this.h2 = new Http2ClientReader(true);
      if (leftover === null) return;
      bytes = leftover;
    }
    if (this.h2 !== null) {
      this.h2.push(bytes, (fields: HeaderField[]) => onRequest(ja4hInputFromHeaderList(fields, '20')));
      if (this.h2.failed) this.finish();
    }
  }

  finish(): void {
    this.done = true;
    this.h1 = null;
    this.h2 = null;
  }
}

interface HttpFlowState {
  tcp: ClientStream | null;
  plain: ClientStream | null;
}

export class HttpAnalyzer implements Analyzer {
  readonly name = 'http';
  readonly methods = ['ja4h'] as const;
  readonly wantsStream = true;

  onStream(flow: Flow, fromClient: boolean, buf: Buffer, off: number, len: number, gap: boolean, pkt: Packet, ctx: AnalyzerContext): void {
    const st = this.state(flow, ctx);
    if (!fromClient) return;
    const bytes = off === 0 && len === buf.length ? buf : buf.subarray(off, off + len);
    if (st.tcp === null) st.tcp = new ClientStream(false);
    // Lost bytes break both framings; the rest of this stream is not parsed.
    if (gap) st.tcp.finish();
    try {
      st.tcp.push(bytes, (input) => this.emit(flow, input, pkt, ctx));
    } catch {
      st.tcp.finish();
    }
    if (st.tcp.done) ctx.streamDone(flow);
  }

  onPlaintext(flow: Flow, fromClient: boolean, bytes: Buffer, pkt: Packet, alpn: string | null, ctx: AnalyzerContext): void {
    if (!fromClient) return;
    const st = this.state(flow, ctx);
    if (st.plain === null) st.plain = new ClientStream(alpn === 'h2');
    try {
      st.plain.push(bytes, (input) => this.emit(flow, input, pkt, ctx));
    } catch {
      st.plain.finish();
    }
  }

  private state(flow: Flow, ctx: AnalyzerContext): HttpFlowState {
    let st = flow.state[ctx.slot] as HttpFlowState | undefined;
    if (st === undefined) {
      st = { tcp: null, plain: null };
      flow.state[ctx.slot] = st;
    }
    return st;
  }

  private emit(flow: Flow, input: Ja4hInput | null, pkt: Packet, ctx: AnalyzerContext): void {
    if (input === null) return;
    const result = ja4h(input);
    if (result !== null) ctx.emit(flow, 'ja4h', result.ja4h, pkt.frame, ctx.options.details ? { ja4h_r: result.raw } : undefined);
  }
}

export const createHttpAnalyzer: AnalyzerFactory = () => new HttpAnalyzer();
