/** HKDF (RFC 5869) pieces and TLS 1.3's HKDF-Expand-Label (RFC 8446 §7.1). */
import * as crypto from 'node:crypto';
import { oneShotHash } from '../hash.js';

export type HashName = 'sha256' | 'sha384';

export function hashLen(hash: HashName): number {
  return hash === 'sha384' ? 48 : 32;
}

/**
 * An HMAC key with its padded blocks made once (RFC 2104: key XOR ipad, key XOR opad), for a key
 * used several times: a PRK expanded into key, IV and header-protection key, a QUIC Initial salt.
 */
export class HmacKey {
  /** Key XOR ipad: the first block of every inner hash. */
  readonly innerPad: Buffer;
  /** Key XOR opad, then room for the inner digest: the whole input of the outer hash. */
  readonly outer: Buffer;

  constructor(readonly hash: HashName, readonly key: Buffer) {
    const block = hash === 'sha384' ? 128 : 64;
    if (key.length > block) key = crypto.createHash(hash).update(key).digest();
    this.innerPad = Buffer.alloc(block, 0x36);
    this.outer = Buffer.allocUnsafe(block + hashLen(hash)).fill(0x5c, 0, block);
    for (let i = 0; i < key.length; i++) {
      this.innerPad[i] ^= key[i];
      this.outer[i] ^= key[i];
    }
  }
}

/** Inner hash input (synchronous, never re-entered), grown as needed. */
let inner = Buffer.allocUnsafe(128 + 256);

/**
 * HMAC built from two one-shot hashes where crypto.hash exists: QUIC derives nine HMACs per
 * connection for its Initial keys, and createHmac's object costs several times the hashing itself.
 */
export function hmac(hash: HashName, key: Buffer | HmacKey, ...parts: Buffer[]): Buffer {
  const oneShot = oneShotHash;
  if (!oneShot) {
    const h = crypto.createHmac(hash, key instanceof HmacKey ? key.key : key);
    for (const p of parts) h.update(p);
    return h.digest();
  }
  const k = key instanceof HmacKey && key.hash === hash ? key : new HmacKey(hash, key instanceof HmacKey ? key.key : key);
  const block = k.innerPad.length;
  let msgLen = 0;
  for (const p of parts) msgLen += p.length;
  if (inner.length < block + msgLen) inner = Buffer.allocUnsafe(2 * (block + msgLen));
  let o = k.innerPad.copy(inner, 0);
  // Parts are a few dozen bytes (labels, counters, secrets): a loop costs less than a native copy each.
  for (const p of parts) {
    if (p.length > 64) { o += p.copy(inner, o); continue; }
    for (let i = 0; i < p.length; i++) inner[o + i] = p[i];
    o += p.length;
  }
  // Digests as latin1 ('binary') strings, copied: cheaper than a Buffer result per hash.
  k.outer.write(oneShot(hash, inner.subarray(0, o), 'binary'), block, 'latin1');
  return Buffer.from(oneShot(hash, k.outer, 'binary'), 'latin1');
}

export function hkdfExtract(hash: HashName, salt: Buffer | HmacKey, ikm: Buffer): Buffer {
  return hmac(hash, salt, ikm);
}

const EMPTY: Buffer = Buffer.alloc(0);
const COUNTER_ONE = Buffer.of(1);

export function hkdfExpand(hash: HashName, prk: Buffer | HmacKey, info: Buffer, length: number): Buffer {
  const hl = hashLen(hash);
  // The common case (every TLS 1.3 / QUIC key, IV and secret): one block, no copy.
  if (length <= hl) {
    const t = hmac(hash, prk, info, COUNTER_ONE);
    return length === hl ? t : t.subarray(0, length);
  }
  const key = prk instanceof HmacKey ? prk : new HmacKey(hash, prk);
  const counter = Buffer.allocUnsafe(1);
  const out = Buffer.allocUnsafe(length);
  let prev: Buffer = EMPTY;
  let filled = 0;
  for (let i = 1; filled < length; i++) {
    counter[0] = i;
    prev = hmac(hash, key, prev, info, counter);
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

export function hkdfExpandLabel(hash: HashName, secret: Buffer | HmacKey, label: string, context: Buffer, length: number): Buffer {
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
