/**
 * HTTP/3 request streams (RFC 9114): the first HEADERS frame of each client-initiated
 * bidirectional stream is the request's header section. Frames are buffered per stream up to a
 * cap, then the stream is forgotten once its request headers were decoded.
 */
import { readVarint, varintLen } from './varint.js';
import { decodeFieldSection, type HeaderField, type HuffmanDecoder } from './qpack.js';

const FRAME_HEADERS = 0x01;
/** Largest header section we buffer (browsers' requests are a few hundred bytes). */
const MAX_HEADER_BYTES = 64 * 1024;

export type RequestHandler = (streamId: number, fields: HeaderField[]) => void;

export class Http3Requests {
  private readonly pending = new Map<number, Buffer>();
  private readonly finished = new Set<number>();

  constructor(private readonly onRequest: RequestHandler, private readonly huffman: HuffmanDecoder | null, private readonly maxStreams = 256) {}

  push(streamId: number, data: Buffer, fin: boolean): void {
    if (this.finished.has(streamId)) return;
    let buf = this.pending.get(streamId);
    buf = buf ? Buffer.concat([buf, data]) : Buffer.from(data);
    let p = 0;
    while (p < buf.length) {
      const type = readVarint(buf, p, buf.length);
      if (varintLen < 0) break;
      const q = p + varintLen;
      const len = readVarint(buf, q, buf.length);
      if (varintLen < 0) break;
      const body = q + varintLen;
      if (type === FRAME_HEADERS) {
        if (len > MAX_HEADER_BYTES) { this.finish(streamId); return; }
        if (body + len > buf.length) break;
        const fields = decodeFieldSection(buf, body, len, this.huffman);
        this.finish(streamId);
        if (fields) this.onRequest(streamId, fields);
        return;
      }
      // Another frame before HEADERS (e.g. a reserved/grease type): skip it once complete.
      if (body + len > buf.length) break;
      p = body + len;
    }
    if (fin || buf.length - p > MAX_HEADER_BYTES || (!this.pending.has(streamId) && this.pending.size >= this.maxStreams)) {
      this.finish(streamId);
      return;
    }
    this.pending.set(streamId, buf.subarray(p));
  }

  private finish(streamId: number): void {
    this.pending.delete(streamId);
    if (this.finished.size < 4096) this.finished.add(streamId);
  }
}
