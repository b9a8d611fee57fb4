/** HKDF (RFC 5869) pieces and TLS 1.3's HKDF-Expand-Label (RFC 8446 §7.1). */
import * as crypto from 'node:crypto';
import { oneShotHash } from '../hash.js';

export type HashName = 'sha256' | 'sha384';

export function hashLen(hash: HashName): number {
  return hash === 'sha384' ? 48 : 32;
}

/** Pads and message of the HMAC being computed (synchronous, never re-entered), grown as needed. */
let inner = Buffer.allocUnsafe(128 + 256);
const outer256 = Buffer.allocUnsafe(64 + 32);
const outer384 = Buffer.allocUnsafe(128 + 48);

/**
 * HMAC built from two one-shot hashes (RFC 2104) where crypto.hash exists: QUIC derives nine HMACs
 * per connection for its Initial keys, and createHmac's object costs several times the hashing
 * itself. Keys longer than a block are hashed first, as HMAC specifies.
 */
export function hmac(hash: HashName, key: Buffer, ...parts: Buffer[]): Buffer {
  const oneShot = oneShotHash;
  if (!oneShot) {
    const h = crypto.createHmac(hash, key);
    for (const p of parts) h.update(p);
    return h.digest();
  }
  const block = hash === 'sha384' ? 128 : 64;
  if (key.length > block) key = oneShot(hash, key, 'buffer');
  let msgLen = 0;
  for (const p of parts) msgLen += p.length;
  if (inner.length < block + msgLen) inner = Buffer.allocUnsafe(2 * (block + msgLen));
  const outer = hash === 'sha384' ? outer384 : outer256;
  for (let i = 0; i < block; i++) {
    const k = i < key.length ? key[i] : 0;
    inner[i] = k ^ 0x36;
    outer[i] = k ^ 0x5c;
  }
  let o = block;
  for (const p of parts) o += p.copy(inner, o);
  // Digests as latin1 ('binary') strings, copied: cheaper than a Buffer result per hash.
  outer.write(oneShot(hash, inner.subarray(0, o), 'binary'), block, 'latin1');
  return Buffer.from(oneShot(hash, outer, 'binary'), 'latin1');
}

export function hkdfExtract(hash: HashName, salt: Buffer, ikm: Buffer): Buffer {
  return hmac(hash, salt, ikm);
}

const EMPTY: Buffer = Buffer.alloc(0);

export function hkdfExpand(hash: HashName, prk: Buffer, info: Buffer, length: number): Buffer {
  const hl = hashLen(hash);
  const counter = Buffer.allocUnsafe(1);
  // The common case (every TLS 1.3 / QUIC key, IV and secret): one block, no copy.
  if (length <= hl) {
    counter[0] = 1;
    const t = hmac(hash, prk, info, counter);
    return length === hl ? t : t.subarray(0, length);
  }
  const out = Buffer.allocUnsafe(length);
  let prev: Buffer = EMPTY;
  let filled = 0;
  for (let i = 1; filled < length; i++) {
    counter[0] = i;
    prev = hmac(hash, prk, prev, info, counter);
    filled += prev.copy(out, filled);
  }
  return out;
}

/** The HkdfLabel structure (RFC 8446 §7.1): the `info` of HKDF-Expand-Label. */
function labelInfo(label: string, context: Buffer, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.allocUnsafe(2 + 1 + full.length + 1 + context.length);
  info.writeUInt16BE(length, 0);
  info[2] = full.length;
  full.copy(info, 3);
  info[3 + full.length] = context.length;
  context.copy(info, 4 + full.length);
  return info;
}

/**
 * The info of every empty-context label, by label and length, built once: each QUIC connection
 * derives six keys for its Initials, and rebuilding the same bytes each time was waste. Bounded:
 * the labels are constants of the callers, the lengths a handful.
 */
const EMPTY_CONTEXT_INFOS = new Map<string, Buffer>();

export function hkdfExpandLabel(hash: HashName, secret: Buffer, label: string, context: Buffer, length: number): Buffer {
  let info: Buffer | undefined;
  if (context.length === 0) {
    const id = `${label}/${length}`;
    info = EMPTY_CONTEXT_INFOS.get(id);
    if (info === undefined) EMPTY_CONTEXT_INFOS.set(id, info = labelInfo(label, context, length));
  } else {
    info = labelInfo(label, context, length);
  }
  return hkdfExpand(hash, secret, info, length);
}
