/**
 * QPACK field-section decoding (RFC 9204) for HTTP/3 request headers. Only the static table is
 * known: a section that needs the dynamic table (Required Insert Count > 0) yields null, since
 * following the encoder stream is not worth its state for fingerprinting (browsers send requests
 * with static references and literals). Huffman-coded strings are decoded by the injected decoder
 * (HPACK and QPACK share the code).
 */
export interface HeaderField {
  name: string;
  value: string;
}

/** Decodes `len` Huffman-coded bytes at buf[off]; throws on a bad code. */
export type HuffmanDecoder = (buf: Buffer, off: number, len: number) => Buffer;

// RFC 9204 Appendix A.
const STATIC: readonly (readonly [string, string])[] = [
  [':authority', ''], [':path', '/'], ['age', '0'], ['content-disposition', ''], ['content-length', '0'],
  ['cookie', ''], ['date', ''], ['etag', ''], ['if-modified-since', ''], ['if-none-match', ''],
  ['last-modified', ''], ['link', ''], ['location', ''], ['referer', ''], ['set-cookie', ''],
  [':method', 'CONNECT'], [':method', 'DELETE'], [':method', 'GET'], [':method', 'HEAD'], [':method', 'OPTIONS'],
  [':method', 'POST'], [':method', 'PUT'], [':scheme', 'http'], [':scheme', 'https'], [':status', '103'],
  [':status', '200'], [':status', '304'], [':status', '404'], [':status', '503'], ['accept', '*/*'],
  ['accept', 'application/dns-message'], ['accept-encoding', 'gzip, deflate, br'], ['accept-ranges', 'bytes'],
  ['access-control-allow-headers', 'cache-control'], ['access-control-allow-headers', 'content-type'],
  ['access-control-allow-origin', '*'], ['cache-control', 'max-age=0'], ['cache-control', 'max-age=2592000'],
  ['cache-control', 'max-age=604800'], ['cache-control', 'no-cache'], ['cache-control', 'no-store'],
  ['cache-control', 'public, max-age=31536000'], ['content-encoding', 'br'], ['content-encoding', 'gzip'],
  ['content-type', 'application/dns-message'], ['content-type', 'application/javascript'],
  ['content-type', 'application/json'], ['content-type', 'application/x-www-form-urlencoded'],
  ['content-type', 'image/gif'], ['content-type', 'image/jpeg'], ['content-type', 'image/png'],
  ['content-type', 'text/css'], ['content-type', 'text/html; charset=utf-8'], ['content-type', 'text/plain'],
  ['content-type', 'text/plain;charset=utf-8'], ['range', 'bytes=0-'], ['strict-transport-security', 'max-age=31536000'],
  ['strict-transport-security', 'max-age=31536000; includesubdomains'],
  ['strict-transport-security', 'max-age=31536000; includesubdomains; preload'], ['vary', 'accept-encoding'],
  ['vary', 'origin'], ['x-content-type-options', 'nosniff'], ['x-xss-protection', '1; mode=block'],
  [':status', '100'], [':status', '204'], [':status', '206'], [':status', '302'], [':status', '400'],
  [':status', '403'], [':status', '421'], [':status', '425'], [':status', '500'], ['accept-language', ''],
  ['access-control-allow-credentials', 'FALSE'], ['access-control-allow-credentials', 'TRUE'],
  ['access-control-allow-headers', '*'], ['access-control-allow-methods', 'get'],
  ['access-control-allow-methods', 'get, post, options'], ['access-control-allow-methods', 'options'],
  ['access-control-expose-headers', 'content-length'], ['access-control-request-headers', 'content-type'],
  ['access-control-request-method', 'get'], ['access-control-request-method', 'post'], ['alt-svc', 'clear'],
  ['authorization', ''], ['content-security-policy', "script-src 'none'; object-src 'none'; base-uri 'none'"],
  ['early-data', '1'], ['expect-ct', ''], ['forwarded', ''], ['if-range', ''], ['origin', ''],
  ['purpose', 'prefetch'], ['server', ''], ['timing-allow-origin', '*'], ['upgrade-insecure-requests', '1'],
  ['user-agent', ''], ['x-forwarded-for', ''], ['x-frame-options', 'deny'], ['x-frame-options', 'sameorigin'],
];

export const QPACK_STATIC_TABLE_SIZE = STATIC.length;

class Cursor {
  p: number;
  ok = true;
  constructor(readonly buf: Buffer, off: number, readonly end: number) { this.p = off; }

  /** An N-bit prefix integer (RFC 7541 §5.1) whose first byte is at p. */
  int(bits: number): number {
    if (this.p >= this.end) { this.ok = false; return 0; }
    const max = (1 << bits) - 1;
    let v = this.buf[this.p++] & max;
    if (v < max) return v;
    for (let shift = 0; shift <= 28; shift += 7) {
      if (this.p >= this.end) { this.ok = false; return 0; }
      const b = this.buf[this.p++];
      v += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return v;
    }
    this.ok = false;
    return 0;
  }

  /** A string literal whose H bit is `hBit` of the first byte and length an N-bit prefix integer. */
  str(hBit: number, bits: number, huffman: HuffmanDecoder | null): string {
    if (this.p >= this.end) { this.ok = false; return ''; }
    const h = (this.buf[this.p] & hBit) !== 0;
    const len = this.int(bits);
    if (!this.ok || this.p + len > this.end) { this.ok = false; return ''; }
    const start = this.p;
    this.p += len;
    if (!h) return this.buf.toString('latin1', start, start + len);
    if (!huffman) { this.ok = false; return ''; }
    try {
      return huffman(this.buf, start, len).toString('latin1');
    } catch {
      this.ok = false;
      return '';
    }
  }
}

/** Decodes an encoded field section; null when it is malformed or refers to the dynamic table. */
export function decodeFieldSection(buf: Buffer, off: number, len: number, huffman: HuffmanDecoder | null): HeaderField[] | null {
  const c = new Cursor(buf, off, Math.min(buf.length, off + len));
  const requiredInsertCount = c.int(8);
  c.int(7); // sign bit + delta base
  if (!c.ok || requiredInsertCount !== 0) return null;
  const fields: HeaderField[] = [];
  while (c.ok && c.p < c.end) {
    const b = buf[c.p];
    if (b & 0x80) { // indexed field line
      if ((b & 0x40) === 0) return null;
      const e = STATIC[c.int(6)];
      if (!c.ok || !e) return null;
      fields.push({ name: e[0], value: e[1] });
    } else if (b & 0x40) { // literal with name reference
      if ((b & 0x10) === 0) return null;
      const e = STATIC[c.int(4)];
      if (!c.ok || !e) return null;
      fields.push({ name: e[0], value: c.str(0x80, 7, huffman) });
    } else if (b & 0x20) { // literal with literal name
      const name = c.str(0x08, 3, huffman);
      fields.push({ name, value: c.str(0x80, 7, huffman) });
    } else {
      return null; // post-base references: dynamic table
    }
    if (fields.length > 512) return null;
  }
  return c.ok ? fields : null;
}
