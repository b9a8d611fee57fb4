/** Walks the frames of a decrypted QUIC packet payload (RFC 9000 §19), handing on CRYPTO and STREAM data. */
import { readVarint, varintLen } from './varint.js';

export interface FrameSink {
  crypto(offset: number, buf: Buffer, off: number, len: number): void;
  stream?(id: number, offset: number, buf: Buffer, off: number, len: number, fin: boolean): void;
}

/** Skips `n` varints from p: the position after them, or -1 if one is out of bounds. */
function skipVarints(buf: Buffer, p: number, end: number, n: number): number {
  for (let i = 0; i < n; i++) {
    readVarint(buf, p, end);
    if (varintLen < 0) return -1;
    p += varintLen;
  }
  return p;
}

/**
 * Returns false when a frame is malformed or unknown (the rest of the payload is then skipped).
 * Written without closures over the cursor: a captured `p` lives on the heap, and the PADDING run
 * of every client Initial (~900 bytes) is walked byte by byte.
 */
export function walkFrames(buf: Buffer, off: number, end: number, sink: FrameSink): boolean {
  let p = off;
  while (p < end) {
    const type = readVarint(buf, p, end);
    if (varintLen < 0) return false;
    p += varintLen;
    switch (type) {
      case 0x00: // PADDING: a client's Initial is padded to 1200 bytes; skip the run in one loop
        while (p < end && buf[p] === 0) p++;
        break;
      case 0x01: case 0x1e: break; // PING, HANDSHAKE_DONE
      case 0x02: case 0x03: { // ACK: largest, delay, range count, first range, ranges, [ECN counts]
        p = skipVarints(buf, p, end, 2);
        if (p < 0) return false;
        const ranges = readVarint(buf, p, end);
        if (varintLen < 0 || ranges > 10000) return false;
        p = skipVarints(buf, p + varintLen, end, 1 + 2 * ranges + (type === 0x03 ? 3 : 0));
        if (p < 0) return false;
        break;
      }
      case 0x04: p = skipVarints(buf, p, end, 3); if (p < 0) return false; break;
      case 0x05: p = skipVarints(buf, p, end, 2); if (p < 0) return false; break;
      case 0x06: { // CRYPTO
        const offset = readVarint(buf, p, end);
        if (varintLen < 0) return false;
        p += varintLen;
        const len = readVarint(buf, p, end);
        if (varintLen < 0) return false;
        p += varintLen;
        if (p + len > end) return false;
        sink.crypto(offset, buf, p, len);
        p += len;
        break;
      }
      case 0x07: case 0x31: { // NEW_TOKEN, DATAGRAM with length
        const len = readVarint(buf, p, end);
        if (varintLen < 0) return false;
        p += varintLen + len;
        if (p > end) return false;
        break;
      }
      case 0x10: case 0x12: case 0x13: case 0x14: case 0x16: case 0x17: case 0x19:
        p = skipVarints(buf, p, end, 1); if (p < 0) return false; break;
      case 0x11: case 0x15: p = skipVarints(buf, p, end, 2); if (p < 0) return false; break;
      case 0x18: { // NEW_CONNECTION_ID
        p = skipVarints(buf, p, end, 2);
        if (p < 0 || p >= end) return false;
        p += 1 + buf[p] + 16;
        if (p > end) return false;
        break;
      }
      case 0x1a: case 0x1b: p += 8; if (p > end) return false; break;
      case 0x1c: case 0x1d: { // CONNECTION_CLOSE
        p = skipVarints(buf, p, end, type === 0x1c ? 2 : 1);
        if (p < 0) return false;
        const len = readVarint(buf, p, end);
        if (varintLen < 0) return false;
        p += varintLen + len;
        if (p > end) return false;
        break;
      }
      case 0x30: return true; // DATAGRAM without length runs to the end
      default: {
        if (type < 0x08 || type > 0x0f) return false;
        // STREAM: id, [offset], [length], data
        const id = readVarint(buf, p, end);
        if (varintLen < 0) return false;
        p += varintLen;
        let offset = 0;
        if (type & 0x04) {
          offset = readVarint(buf, p, end);
          if (varintLen < 0) return false;
          p += varintLen;
        }
        let len = end - p;
        if (type & 0x02) {
          len = readVarint(buf, p, end);
          if (varintLen < 0) return false;
          p += varintLen;
        }
        if (p + len > end) return false;
        sink.stream?.(id, offset, buf, p, len, (type & 0x01) !== 0);
        p += len;
        break;
      }
    }
  }
  return true;
}
