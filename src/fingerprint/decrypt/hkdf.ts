/** HKDF (RFC 5869) pieces and TLS 1.3's HKDF-Expand-Label (RFC 8446 §7.1). */
import { createHmac } from 'node:crypto';

export type HashName = 'sha256' | 'sha384';

export function hashLen(hash: HashName): number {
  return hash === 'sha384' ? 48 : 32;
}

export function hkdfExtract(hash: HashName, salt: Buffer, ikm: Buffer): Buffer {
  return createHmac(hash, salt).update(ikm).digest();
}

export function hkdfExpand(hash: HashName, prk: Buffer, info: Buffer, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let prev = Buffer.alloc(0);
  let filled = 0;
  for (let i = 1; filled < length; i++) {
    prev = createHmac(hash, prk).update(prev).update(info).update(Buffer.of(i)).digest();
    filled += prev.copy(out, filled);
  }
  return out;
}

export function hkdfExpandLabel(hash: HashName, secret: Buffer, label: string, context: Buffer, length: number): Buffer {
  const full = Buffer.from(`tls13 ${label}`, 'latin1');
  const info = Buffer.allocUnsafe(2 + 1 + full.length + 1 + context.length);
  info.writeUInt16BE(length, 0);
  info[2] = full.length;
  full.copy(info, 3);
  info[3 + full.length] = context.length;
  context.copy(info, 4 + full.length);
  return hkdfExpand(hash, secret, info, length);
}
