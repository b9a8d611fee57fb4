/**
 * ClientHello / ServerHello parsing from handshake message bodies (the bytes after the 4-byte
 * handshake header). Parsing is bounds-checked everywhere and never throws: a field that runs past
 * the end of its block (or of the buffer) ends parsing there, and `truncated` says so, the way
 * Wireshark dissects what is present of a malformed hello.
 */
export const EXT_SERVER_NAME = 0x0000;
export const EXT_SIGNATURE_ALGORITHMS = 0x000d;
export const EXT_ALPN = 0x0010;
export const EXT_SUPPORTED_VERSIONS = 0x002b;
export const EXT_QUIC_TRANSPORT_PARAMETERS = 0x0039;

export interface ClientHello {
  /** legacy_version of the hello body (not the record version). */
  version: number;
  /** The 32-byte client random (a copy), the key of decryption secrets. */
  random: Buffer;
  /** Cipher suites in wire order, GREASE included. */
  ciphers: number[];
  /** Extension types in wire order, GREASE included. */
  extensions: number[];
  /** supported_versions values in wire order, GREASE included. */
  supportedVersions: number[];
  /** First host_name of the server_name extension. */
  sni: string | null;
  /** Protocols of the ALPN extension, raw bytes. */
  alpn: Buffer[];
  /** signature_algorithms values in wire order. */
  sigAlgs: number[];
  /** A length field claimed more bytes than there were. */
  truncated: boolean;
}

export interface ServerHello {
  version: number;
  random: Buffer;
  cipher: number;
  extensions: number[];
  /** The selected supported_versions value, if the extension is present. */
  supportedVersion: number | null;
  alpn: Buffer[];
  truncated: boolean;
}

/** Parses a ClientHello body at buf[off, off+len). Returns null only if even the fixed part is missing. */
export function parseClientHello(buf: Buffer, off: number, len: number): ClientHello | null {
  const end = Math.min(buf.length, off + len);
  let p = off;
  if (p + 35 > end) return null;
  const ch: ClientHello = {
    version: buf.readUInt16BE(p),
    random: Buffer.from(buf.subarray(p + 2, p + 34)),
    ciphers: [],
    extensions: [],
    supportedVersions: [],
    sni: null,
    alpn: [],
    sigAlgs: [],
    truncated: false,
  };
  p += 34;
  p += 1 + buf[p]; // session id
  if (p + 2 > end) { ch.truncated = true; return ch; }
  const csLen = buf.readUInt16BE(p);
  p += 2;
  const csEnd = p + csLen;
  const csStop = Math.min(csEnd, end);
  for (; p + 2 <= csStop; p += 2) ch.ciphers.push(buf.readUInt16BE(p));
  if (csEnd > end) { ch.truncated = true; return ch; }
  p = csEnd;
  if (p + 1 > end) { ch.truncated = true; return ch; }
  p += 1 + buf[p]; // compression methods
  if (p > end) { ch.truncated = true; return ch; }
  if (p + 2 > end) return ch; // no extensions block at all
  const extEnd = p + 2 + buf.readUInt16BE(p);
  p += 2;
  if (extEnd > end) ch.truncated = true;
  const stop = Math.min(extEnd, end);
  while (p + 4 <= stop) {
    const type = buf.readUInt16BE(p);
    const elen = buf.readUInt16BE(p + 2);
    p += 4;
    ch.extensions.push(type);
    const dEnd = p + elen;
    if (dEnd > stop) ch.truncated = true;
    const dStop = Math.min(dEnd, stop);
    switch (type) {
      case EXT_SERVER_NAME: ch.sni = readServerName(buf, p, dStop); break;
      case EXT_ALPN: readAlpn(buf, p, dStop, ch.alpn); break;
      case EXT_SIGNATURE_ALGORITHMS: readU16List(buf, p + 2, Math.min(dStop, p + 2 + u16(buf, p, dStop)), ch.sigAlgs); break;
      case EXT_SUPPORTED_VERSIONS: if (p < dStop) readU16List(buf, p + 1, Math.min(dStop, p + 1 + buf[p]), ch.supportedVersions); break;
      default: break;
    }
    p = dEnd;
  }
  if (p < stop) ch.truncated = true; // 1-3 stray bytes
  return ch;
}

/** Parses a ServerHello body at buf[off, off+len). */
export function parseServerHello(buf: Buffer, off: number, len: number): ServerHello | null {
  const end = Math.min(buf.length, off + len);
  let p = off;
  if (p + 35 > end) return null;
  const version = buf.readUInt16BE(p);
  const random = Buffer.from(buf.subarray(p + 2, p + 34));
  p += 34;
  p += 1 + buf[p];
  if (p + 3 > end) return null;
  const sh: ServerHello = {
    version, random, cipher: buf.readUInt16BE(p), extensions: [], supportedVersion: null, alpn: [], truncated: false,
  };
  p += 3; // cipher + compression
  if (p + 2 > end) return sh;
  const extEnd = p + 2 + buf.readUInt16BE(p);
  p += 2;
  if (extEnd > end) sh.truncated = true;
  const stop = Math.min(extEnd, end);
  while (p + 4 <= stop) {
    const type = buf.readUInt16BE(p);
    const elen = buf.readUInt16BE(p + 2);
    p += 4;
    sh.extensions.push(type);
    const dEnd = p + elen;
    if (dEnd > stop) sh.truncated = true;
    const dStop = Math.min(dEnd, stop);
    if (type === EXT_SUPPORTED_VERSIONS && p + 2 <= dStop) sh.supportedVersion = buf.readUInt16BE(p);
    else if (type === EXT_ALPN) readAlpn(buf, p, dStop, sh.alpn);
    p = dEnd;
  }
  return sh;
}

function u16(buf: Buffer, p: number, end: number): number {
  return p + 2 <= end ? buf.readUInt16BE(p) : 0;
}

function readU16List(buf: Buffer, p: number, end: number, out: number[]): void {
  for (; p + 2 <= end; p += 2) out.push(buf.readUInt16BE(p));
}

function readServerName(buf: Buffer, p: number, end: number): string | null {
  const listEnd = Math.min(end, p + 2 + u16(buf, p, end));
  p += 2;
  while (p + 3 <= listEnd) {
    const type = buf[p];
    const nlen = buf.readUInt16BE(p + 1);
    p += 3;
    if (type === 0) return buf.toString('latin1', p, Math.min(p + nlen, listEnd));
    p += nlen;
  }
  return null;
}

function readAlpn(buf: Buffer, p: number, end: number, out: Buffer[]): void {
  const listEnd = Math.min(end, p + 2 + u16(buf, p, end));
  p += 2;
  while (p < listEnd) {
    const plen = buf[p];
    p += 1;
    out.push(Buffer.from(buf.subarray(p, Math.min(p + plen, listEnd))));
    p += plen;
  }
}
