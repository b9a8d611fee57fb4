/**
 * JA4: TLS client fingerprint from a ClientHello, computed as FoxIO's reference tool does:
 * `{t|q}{version}{d|i}{#ciphers}{#extensions}{alpn first+last}_{hash(sorted ciphers)}_{hash(sorted
 * extensions without SNI/ALPN "_" signature algorithms in wire order)}`. GREASE is ignored in
 * ciphers, extensions and supported_versions (not in signature algorithms, as the reference does).
 */
import { hash12, hex4 } from './hash.js';
import { isGrease } from './tls/grease.js';
import {
  EXT_ALPN, EXT_QUIC_TRANSPORT_PARAMETERS, EXT_SERVER_NAME, EXT_SUPPORTED_VERSIONS,
  type ClientHello,
} from './tls/hello.js';

export interface Ja4Result {
  ja4: string;
  /** Raw (unhashed) sorted form, the reference's `ja4_r`. */
  ja4_r: string;
  /** Original-order raw form (`ja4_ro`); its hashed form `ja4_o` only when asked for (two more hashes). */
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

export function ja4(ch: ClientHello, withOriginalHash = false): Ja4Result {
  const ciphers: number[] = [];
  for (const c of ch.ciphers) if (!isGrease(c)) ciphers.push(c);
  const exts: number[] = [];
  for (const e of ch.extensions) if (!isGrease(e)) exts.push(e);

  const quic = exts.includes(EXT_QUIC_TRANSPORT_PARAMETERS) ? 'q' : 't';
  const version = tlsVersionCode(helloVersion(ch.version, exts.includes(EXT_SUPPORTED_VERSIONS), ch.supportedVersions));
  const sni = exts.includes(EXT_SERVER_NAME) ? 'd' : 'i';
  const head = `${quic}${version}${sni}${twoDigits(ciphers.length)}${twoDigits(exts.length)}${alpnChars(ch.alpn[0])}`;

  const sigs = ch.sigAlgs.map(hex4).join(',');
  const tail = sigs.length ? `_${sigs}` : '';

  const ciphersOrig = ciphers.map(hex4).join(',');
  const extsOrig = exts.map(hex4).join(',');
  const ciphersSorted = ciphers.slice().sort((a, b) => a - b).map(hex4).join(',');
  const extsSorted = exts.filter((e) => e !== EXT_SERVER_NAME && e !== EXT_ALPN).sort((a, b) => a - b).map(hex4).join(',');

  const r: Ja4Result = {
    ja4: `${head}_${hash12(ciphersSorted)}_${hash12(extsSorted + tail)}`,
    ja4_r: `${head}_${ciphersSorted}_${extsSorted}${tail}`,
    ja4_ro: `${head}_${ciphersOrig}_${extsOrig}${tail}`,
  };
  if (withOriginalHash) r.ja4_o = `${head}_${hash12(ciphersOrig)}_${hash12(extsOrig + tail)}`;
  return r;
}
