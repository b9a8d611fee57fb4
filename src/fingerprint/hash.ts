import * as crypto from 'node:crypto';

/**
 * crypto.hash (Node >= 20.12): a one-shot digest without the Hash object createHash builds per
 * call, about three times cheaper for the short inputs fingerprints and key derivations hash.
 * Null on an older Node, where callers fall back to createHash/createHmac.
 */
export const oneShotHash: typeof crypto.hash | null = (crypto as { hash?: typeof crypto.hash }).hash ?? null;

function sha256Hex(data: string | Buffer): string {
  return oneShotHash ? oneShotHash('sha256', data, 'hex') : crypto.createHash('sha256').update(data).digest('hex');
}

/**
 * Recent hash12 results by input. A network repeats itself: the same client software sends the
 * same cipher and extension lists, the same header names, thousands of times, and a Map lookup
 * costs a fraction of a SHA-256. Emptied when full, so a flood of unique inputs cannot grow it.
 */
const recentStringHashes = new Map<string, string>();
/** Keyed by the bytes as latin1, apart from the strings: as UTF-8 a byte above 0x7f hashes differently. */
const recentByteHashes = new Map<string, string>();
const RECENT_HASHES_LIMIT = 4096;

function remember(cache: Map<string, string>, key: string, h: string): string {
  if (cache.size >= RECENT_HASHES_LIMIT) cache.clear();
  cache.set(key, h);
  return h;
}

/** First 12 hex characters of the SHA-256 of `s` (as UTF-8); twelve zeros for an empty string (JA4+ convention). */
export function hash12(s: string): string {
  if (s.length === 0) return '000000000000';
  return recentStringHashes.get(s) ?? remember(recentStringHashes, s, sha256Hex(s).slice(0, 12));
}

/** hash12 of the bytes buf[start, end). */
export function hash12Bytes(buf: Buffer, start: number, end: number): string {
  if (end <= start) return '000000000000';
  const key = buf.toString('latin1', start, end);
  return recentByteHashes.get(key) ?? remember(recentByteHashes, key, sha256Hex(buf.subarray(start, end)).slice(0, 12));
}

/** Lower-case hex digits as bytes, for writing raw fingerprint forms straight into a buffer. */
export const HEX_DIGITS: Buffer = Buffer.from('0123456789abcdef', 'latin1');

/** A 16-bit value as four lower-case hex digits. */
export function hex4(v: number): string {
  return HEX4[v & 0xffff] ?? (HEX4[v & 0xffff] = v.toString(16).padStart(4, '0'));
}
const HEX4: string[] = [];
