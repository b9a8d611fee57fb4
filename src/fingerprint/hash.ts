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

/** First 12 hex characters of the SHA-256 of `s`; twelve zeros for an empty string (JA4+ convention). */
export function hash12(s: string): string {
  if (s.length === 0) return '000000000000';
  return sha256Hex(s).slice(0, 12);
}

/** hash12 of the latin1 string of buf[start, end), without making the string. */
export function hash12Bytes(buf: Buffer, start: number, end: number): string {
  if (end <= start) return '000000000000';
  return sha256Hex(buf.subarray(start, end)).slice(0, 12);
}

/** Lower-case hex digits as bytes, for writing raw fingerprint forms straight into a buffer. */
export const HEX_DIGITS: Buffer = Buffer.from('0123456789abcdef', 'latin1');

/** A 16-bit value as four lower-case hex digits. */
export function hex4(v: number): string {
  return HEX4[v & 0xffff] ?? (HEX4[v & 0xffff] = v.toString(16).padStart(4, '0'));
}
const HEX4: string[] = [];
