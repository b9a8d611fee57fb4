/** Walks the frames of a decrypted QUIC packet payload (RFC 9000 §19), handing on CRYPTO and STREAM data. */
import { readVarint, varintLen } from './varint.js';

export interface FrameSink {
  crypto(offset: number, buf: Buffer, off: number, len: number): void;
  stream?(id: number, offset: number, buf: Buffer, off: number, len: number, fin: boolean): void;
}

/** Returns false when a frame is malformed or unknown (the rest of the payload is then skipped). */
export function walkFrames(buf: Buffer, off: number, end: number, sink: FrameSink): boolean {
  let p = off;
  // Reads `n` varints starting at p, advancing p; false if any is out of bounds.
  const skipVarints = (n: number): boolean => {
    for (let i = 0; i < n; i++) {
      readVarint(buf, p, end);
      if (varintLen < 0) return false;
      p += varintLen;
    }
    return true;
  };
  const next = (): number => {
    const v = readVarint(buf, p, end);
    if (varintLen < 0) return -1;
    p += varintLen;
    return v;
  };
  while (p < end) {
    const type = next();
    if (type < 0) return false;
    switch (type) {
      case 0x00: // PADDING: a client's Initial is padded to 1200 bytes; skip the run in one loop
        while (p < end && buf[p] === 0) p++;
        break;
      case 0x01: case 0x1e: break; // PING, HANDSHAKE_DONE
      case 0x02: case 0x03: { // ACK
        if (!skipVarints(2)) return false;
        const ranges = next();
        if (ranges < 0 || ranges > 10000) return false;
        if (!skipVarints(1 + 2 * ranges + (type === 0x03 ? 3 : 0))) return false;
        break;
      }
      case 0x04: if (!skipVarints(3)) return false; break;
      case 0x05: if (!skipVarints(2)) return false; break;
      case 0x06: { // CRYPTO
        const offset = next();
        const len = next();
        if (offset < 0 || len < 0 || p + len > end) return false;
        sink.crypto(offset, buf, p, len);
        p += len;
        break;
      }
      case 0x07: { const len = next(); if (len < 0 || p + len > end) return false; p += len; break; }
      case 0x10: case 0x12: case 0x13: case 0x14: case 0x16: case 0x17: case 0x19:
        if (!skipVarints(1)) return false; break;
      case 0x11: case 0x15: if (!skipVarints(2)) return false; break;
      case 0x18: { // NEW_CONNECTION_ID
        if (!skipVarints(2) || p >= end) return false;
        p += 1 + buf[p] + 16;
        if (p > end) return false;
        break;
      }
      case 0x1a: case 0x1b: p += 8; if (p > end) return false; break;
      case 0x1c: case 0x1d: { // CONNECTION_CLOSE
        if (!skipVarints(type === 0x1c ? 2 : 1)) return false;
        const len = next();
        if (len < 0 || p + len > end) return false;
        p += len;
        break;
      }
      case 0x30: return true; // DATAGRAM without length runs to the end
      case 0x31: { const len = next(); if (len < 0 || p + len > end) return false; p += len; break; }
      default: {
        if (type >= 0x08 && type <= 0x0f) { // STREAM
          const id = next();
          const offset = type & 0x04 ? next() : 0;
          let len = end - p;
          if (type & 0x02) len = next();
          if (id < 0 || offset < 0 || len < 0 || p + len > end) return false;
          sink.stream?.(id, offset, buf, p, len, (type & 0x01) !== 0);
          p += len;
          break;
        }
        return false;
      }
    }
  }
  return true;
}
