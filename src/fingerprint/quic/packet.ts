/**
 * QUIC packet headers and packet protection removal (RFC 9000 §17, RFC 9001 §5.3–5.4).
 * Never mutates the captured bytes: the unmasked header is rebuilt in a small copy.
 */
import { createDecipheriv } from 'node:crypto';
import { readVarint, varintLen } from './varint.js';
import { headerMask, QUIC_V2, type PacketKeys } from './keys.js';

export type LongType = 'initial' | '0rtt' | 'handshake' | 'retry';

const V1_TYPES: LongType[] = ['initial', '0rtt', 'handshake', 'retry'];
const V2_TYPES: LongType[] = ['retry', 'initial', '0rtt', 'handshake'];

export interface LongHeader {
  type: LongType;
  version: number;
  dcid: Buffer;
  scid: Buffer;
  /** Offset of the (protected) packet number. */
  pnOffset: number;
  /** Offset just past this packet (coalesced packets may follow). */
  end: number;
}

/** Parses a long header at buf[off]; null for a short header, a version negotiation packet or bad lengths. */
export function parseLongHeader(buf: Buffer, off: number, end: number): LongHeader | null {
  if (off + 7 > end || (buf[off] & 0x80) === 0) return null;
  const version = buf.readUInt32BE(off + 1);
  if (version === 0) return null;
  let p = off + 5;
  const dl = buf[p++];
  if (dl > 20 || p + dl + 1 > end) return null;
  const dcid = buf.subarray(p, p + dl);
  p += dl;
  const sl = buf[p++];
  if (sl > 20 || p + sl > end) return null;
  const scid = buf.subarray(p, p + sl);
  p += sl;
  const type = (version === QUIC_V2 ? V2_TYPES : V1_TYPES)[(buf[off] >> 4) & 3];
  if (type === 'retry') return { type, version, dcid, scid, pnOffset: end, end };
  if (type === 'initial') {
    const tl = readVarint(buf, p, end);
    if (varintLen < 0) return null;
    p += varintLen + tl;
  }
  const length = readVarint(buf, p, end);
  if (varintLen < 0) return null;
  p += varintLen;
  if (p + length > end || length < 20) return null;
  return { type, version, dcid, scid, pnOffset: p, end: p + length };
}

export interface Opened {
  pn: number;
  payload: Buffer;
  keyPhase: number;
}

/** Reconstructs a full packet number from its truncated form (RFC 9000 §A.3). */
export function decodePacketNumber(largest: number, truncated: number, bits: number): number {
  const expected = largest + 1;
  const win = 2 ** bits;
  const hwin = win / 2;
  const candidate = Math.floor(expected / win) * win + truncated;
  if (candidate <= expected - hwin && candidate < 2 ** 62 - win) return candidate + win;
  if (candidate > expected + hwin && candidate >= win) return candidate - win;
  return candidate;
}

let headerScratch = Buffer.allocUnsafe(256);
const nonceScratch = Buffer.allocUnsafe(12);

/** Removes header protection and decrypts the packet at buf[off, end); null if it does not authenticate. */
export function openPacket(buf: Buffer, off: number, pnOffset: number, end: number, keys: PacketKeys, largestPn: number): Opened | null {
  if (pnOffset + 20 > end) return null;
  let mask: Buffer;
  try {
    mask = headerMask(keys, buf.subarray(pnOffset + 4, pnOffset + 20));
  } catch {
    return null;
  }
  const long = (buf[off] & 0x80) !== 0;
  const first = buf[off] ^ (mask[0] & (long ? 0x0f : 0x1f));
  const pnLen = (first & 3) + 1;
  // The unmasked header and the nonce go to OpenSSL, which copies them when the decipher takes
  // them: one scratch each serves every packet (one thread, never re-entered).
  const headerLen = pnOffset + pnLen - off;
  if (headerScratch.length < headerLen) headerScratch = Buffer.allocUnsafe(Math.max(headerLen, 2 * headerScratch.length));
  const header = headerScratch.subarray(0, headerLen);
  buf.copy(header, 0, off, pnOffset + pnLen);
  header[0] = first;
  let truncated = 0;
  for (let i = 0; i < pnLen; i++) {
    header[pnOffset - off + i] ^= mask[1 + i];
    truncated = truncated * 256 + header[pnOffset - off + i];
  }
  const pn = decodePacketNumber(largestPn, truncated, pnLen * 8);
  const nonce = nonceScratch;
  keys.iv.copy(nonce, 0, 0, 12);
  let v = pn;
  for (let i = 11; i >= 4 && v > 0; i--) { nonce[i] ^= v % 256; v = Math.floor(v / 256); }
  const ctStart = pnOffset + pnLen;
  if (end - ctStart < 16) return null;
  try {
    const d = createDecipheriv(keys.aead as 'aes-128-gcm', keys.key, nonce, { authTagLength: 16 });
    d.setAAD(header);
    d.setAuthTag(buf.subarray(end - 16, end));
    const payload = d.update(buf.subarray(ctStart, end - 16));
    d.final();
    return { pn, payload, keyPhase: (first >> 2) & 1 };
  } catch {
    return null;
  }
}
