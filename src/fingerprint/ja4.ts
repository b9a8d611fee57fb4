/**
 * JA4: TLS client fingerprint from a ClientHello, computed as FoxIO's reference tool does:
 * `{t|q}{version}{d|i}{#ciphers}{#extensions}{alpn first+last}_{hash(sorted ciphers)}_{hash(sorted
 * extensions without SNI/ALPN "_" signature algorithms in wire order)}`. GREASE is ignored in
 * ciphers, extensions and supported_versions (not in signature algorithms, as the reference does).
 */
import { hash12Bytes, HEX_DIGITS } from './hash.js';
import { isGrease } from './tls/grease.js';
import {
  EXT_ALPN, EXT_QUIC_TRANSPORT_PARAMETERS, EXT_SERVER_NAME, EXT_SUPPORTED_VERSIONS,
  type ClientHello,
} from './tls/hello.js';

export interface Ja4Result {
  ja4: string;
  /** Raw (unhashed) sorted form, the reference's `ja4_r` ('' when the raw forms were not asked for). */
  ja4_r: string;
  /** Original-order raw form (`ja4_ro`, '' when not asked for); its hashed form `ja4_o` only when asked for (two more hashes). */
  ja4_ro: string;
  ja4_o?: string;
}

/** Two-character TLS version code: 13, 12, 11, 10, s3, s2, s1, or 00 for anything else. */
export function tlsVersionCode(v: number): string {
  switch (v) {
    case 0x0304: return '13';
    case 0x0303: return '12';
    case 0x0302: return '11';
    case 0x0301: return '10';
    case 0x0300: return 's3';
    case 0x0200: case 0x0002: return 's2';
    case 0x0100: return 's1';
    default: return '00';
  }
}

/**
 * The fingerprint's two ALPN characters: the first and last character of the first protocol,
 * '0' for a missing one (so a one-character ALPN "a" gives "a0"). A byte outside ASCII counts as
 * '9', as in the reference (which reads Wireshark's string form, where such bytes are U+FFFD).
 */
export function alpnChars(proto: Buffer | undefined): string {
  if (!proto || proto.length === 0) return '00';
  const first = alpnChar(proto[0]);
  const last = proto.length > 1 ? alpnChar(proto[proto.length - 1]) : '0';
  return first + last;
}

function alpnChar(b: number): string {
  return b >= 0x21 && b < 0x7f ? String.fromCharCode(b) : '9';
}

/** The TLS version a hello announces: the highest non-GREASE supported_versions entry, else the legacy version. */
export function helloVersion(legacy: number, hasSupportedVersions: boolean, supported: readonly number[]): number {
  if (!hasSupportedVersions) return legacy;
  let best = -1;
  for (const v of supported) if (!isGrease(v) && v > best) best = v;
  return best < 0 ? legacy : best;
}

function twoDigits(n: number): string {
  const c = Math.min(99, n);
  return c < 10 ? `0${c}` : String(c);
}

/**
 * The raw forms are written as bytes into one scratch buffer and turned into a string once; the
 * hashes are taken over the same bytes. Joining arrays of hex strings made several arrays and
 * strings per list, and a ClientHello has five lists: this was most of the allocation of a JA4.
 * One thread, never re-entered, so one scratch buffer serves every call.
 */
let scratch = Buffer.allocUnsafe(4096);

/** Writes `,`-joined four-digit hex of the values at scratch[p]; returns the new end. */
function writeHexList(v: ArrayLike<number>, n: number, p: number): number {
  const b = scratch;
  for (let i = 0; i < n; i++) {
    if (i > 0) b[p++] = 0x2c;
    const x = v[i];
    b[p++] = HEX_DIGITS[(x >> 12) & 15];
    b[p++] = HEX_DIGITS[(x >> 8) & 15];
    b[p++] = HEX_DIGITS[(x >> 4) & 15];
    b[p++] = HEX_DIGITS[x & 15];
  }
  return p;
}

/** Numeric sort scratch: a typed-array sort needs no comparator calls and no work arrays. */
let sortScratch = new Uint16Array(256);
function sortedCopy(v: readonly number[], skipSniAlpn: boolean): Uint16Array {
  if (sortScratch.length < v.length) sortScratch = new Uint16Array(v.length * 2);
  let m = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (skipSniAlpn && (x === EXT_SERVER_NAME || x === EXT_ALPN)) continue;
    sortScratch[m++] = x;
  }
  return sortScratch.subarray(0, m).sort();
}

/** `head_<list a>_<list b><_sigs>` into the scratch buffer; returns where list a ends and where it all ends. */
function writeRaw(head: string, a: ArrayLike<number>, b: ArrayLike<number>, sigs: readonly number[]): [number, number] {
  const need = head.length + 2 + 5 * (a.length + b.length + sigs.length + 1);
  if (scratch.length < need) scratch = Buffer.allocUnsafe(need * 2);
  let p = scratch.write(head, 0, 'latin1');
  scratch[p++] = 0x5f;
  p = writeHexList(a, a.length, p);
  const aEnd = p;
  scratch[p++] = 0x5f;
  p = writeHexList(b, b.length, p);
  if (sigs.length > 0) {
    scratch[p++] = 0x5f;
    p = writeHexList(sigs, sigs.length, p);
  }
  return [aEnd, p];
}

/**
 * @param withRaw build the raw forms `ja4_r` and `ja4_ro` (the reference tool's output; the daemon
 *   keeps only the fingerprint, so it skips their strings and the second, original-order pass)
 */
export function ja4(ch: ClientHello, withOriginalHash = false, withRaw = true): Ja4Result {
  const ciphers: number[] = [];
  for (let i = 0; i < ch.ciphers.length; i++) if (!isGrease(ch.ciphers[i])) ciphers.push(ch.ciphers[i]);
  const exts: number[] = [];
  let hasQuicTp = false;
  let hasSupportedVersions = false;
  let hasSni = false;
  for (let i = 0; i < ch.extensions.length; i++) {
    const e = ch.extensions[i];
    if (isGrease(e)) continue;
    exts.push(e);
    if (e === EXT_QUIC_TRANSPORT_PARAMETERS) hasQuicTp = true;
    else if (e === EXT_SUPPORTED_VERSIONS) hasSupportedVersions = true;
    else if (e === EXT_SERVER_NAME) hasSni = true;
  }

  const quic = hasQuicTp ? 'q' : 't';
  const version = tlsVersionCode(helloVersion(ch.version, hasSupportedVersions, ch.supportedVersions));
  const sni = hasSni ? 'd' : 'i';
  const head = `${quic}${version}${sni}${twoDigits(ciphers.length)}${twoDigits(exts.length)}${alpnChars(ch.alpn[0])}`;
  const h = head.length;

  // Sorted form: the fingerprint hashes its two lists (the second with the signature algorithms).
  const ciphersSorted = sortedCopy(ciphers, false);
  // Copied out: the second sortedCopy reuses the scratch array.
  const cs = ciphersSorted.slice();
  const es = sortedCopy(exts, true);
  let [aEnd, end] = writeRaw(head, cs, es, ch.sigAlgs);
  const ja4Value = `${head}_${hash12Bytes(scratch, h + 1, aEnd)}_${hash12Bytes(scratch, aEnd + 1, end)}`;
  if (!withRaw && !withOriginalHash) return { ja4: ja4Value, ja4_r: '', ja4_ro: '' };
  const ja4R = scratch.toString('latin1', 0, end);

  [aEnd, end] = writeRaw(head, ciphers, exts, ch.sigAlgs);
  const r: Ja4Result = { ja4: ja4Value, ja4_r: ja4R, ja4_ro: scratch.toString('latin1', 0, end) };
  if (withOriginalHash) r.ja4_o = `${head}_${hash12Bytes(scratch, h + 1, aEnd)}_${hash12Bytes(scratch, aEnd + 1, end)}`;
  return r;
}
