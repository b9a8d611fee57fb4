/**
 * Certificate handshake messages → the DER certificates they carry, bounds-checked.
 * TLS ≤1.2: certificate_list<3>{ cert<3> }. TLS 1.3: context<1>, certificate_list<3>{ cert<3>, extensions<2> }.
 * CompressedCertificate (RFC 8879, zlib and brotli) is inflated first.
 */
import { brotliDecompressSync, inflateSync } from 'node:zlib';

/** Largest certificate chain we inflate or keep: bounds memory on hostile input. */
export const MAX_CERT_CHAIN = 256 * 1024;

export function parseCertificateList(buf: Buffer, off: number, len: number, tls13: boolean): Buffer[] {
  const end = Math.min(buf.length, off + len);
  const certs: Buffer[] = [];
  let p = off;
  if (tls13) {
    if (p >= end) return certs;
    p += 1 + buf[p];
  }
  if (p + 3 > end) return certs;
  const listEnd = Math.min(end, p + 3 + buf.readUIntBE(p, 3));
  p += 3;
  while (p + 3 <= listEnd) {
    const clen = buf.readUIntBE(p, 3);
    p += 3;
    if (p + clen > listEnd) break; // a certificate that runs past its list is dropped, not half-parsed
    certs.push(buf.subarray(p, p + clen));
    p += clen;
    if (tls13) {
      if (p + 2 > listEnd) break;
      p += 2 + buf.readUInt16BE(p);
    }
  }
  return certs;
}

/** Inflates a CompressedCertificate body to the Certificate body it stands for; null if unsupported or bad. */
export function decompressCertificate(buf: Buffer, off: number, len: number): Buffer | null {
  const end = Math.min(buf.length, off + len);
  if (off + 8 > end) return null;
  const alg = buf.readUInt16BE(off);
  const rawLen = buf.readUIntBE(off + 2, 3);
  const clen = buf.readUIntBE(off + 5, 3);
  if (rawLen > MAX_CERT_CHAIN || off + 8 + clen > end) return null;
  const data = buf.subarray(off + 8, off + 8 + clen);
  try {
    const opts = { maxOutputLength: MAX_CERT_CHAIN };
    if (alg === 1) return inflateSync(data, opts);
    if (alg === 2) return brotliDecompressSync(data, opts);
  } catch {
    return null;
  }
  return null; // zstd (3) and unknown algorithms
}
