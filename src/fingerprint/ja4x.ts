/**
 * JA4X: X.509 certificate fingerprint, as FoxIO's reference computes it:
 * `hash(issuer RDN OIDs)_hash(subject RDN OIDs)_hash(extension OIDs)`, each list the hex of the
 * OIDs' DER content bytes in certificate order, joined with ','.
 *
 * The certificate is walked with a small strict DER reader (./tls/der.ts): a certificate whose
 * structure or lengths are wrong yields null. It reads only what the fingerprint needs, which keeps
 * it in the tens of microseconds per certificate on the sensor's per-connection path.
 */
import { hash12 } from './hash.js';
import { derString, readTlv, TAG_BOOLEAN, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, TAG_SET, type Tlv } from './tls/der.js';

export interface Ja4xResult {
  ja4x: string;
  ja4x_r: string;
  /** issuerCountryName, subjectCommonName, ... for the attributes with a known short name and a string value. */
  names: Record<string, string>;
}

/** Short names the reference prints (x509-parser's OID registry), by OID content hex. */
const SHORT_NAMES: Record<string, string> = {
  '550403': 'commonName',
  '550404': 'surname',
  '550405': 'serialNumber',
  '550406': 'countryName',
  '550407': 'localityName',
  '550408': 'stateOrProvinceName',
  '550409': 'streetAddress',
  '55040a': 'organizationName',
  '55040b': 'organizationalUnit',
  '55040c': 'title',
  '55040d': 'description',
  '55040f': 'businessCategory',
  '550411': 'postalCode',
  '550429': 'name',
  '55042a': 'givenName',
  '55042b': 'initials',
  '55042e': 'dnQualifier',
  '550461': 'organizationIdentifier',
  '0992268993f22c640101': 'uid',
  '0992268993f22c640119': 'domainComponent',
  '2a864886f70d010901': 'emailAddress',
  '2b0601040182373c020101': 'msJurisdictionLocality',
  '2b0601040182373c020102': 'msJurisdictionStateOrProvince',
  '2b0601040182373c020103': 'msJurisdictionCountry',
};

/** DER content bytes of a dotted OID, as lower-case hex. */
export function oidHex(dotted: string): string {
  const arcs = dotted.split('.');
  if (arcs.length < 2) return '';
  const out: number[] = [];
  const pushBase128 = (v: bigint): void => {
    const bytes: number[] = [Number(v & 0x7fn)];
    for (v >>= 7n; v > 0n; v >>= 7n) bytes.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...bytes);
  };
  pushBase128(BigInt(arcs[0]) * 40n + BigInt(arcs[1]));
  for (let i = 2; i < arcs.length; i++) pushBase128(BigInt(arcs[i]));
  return Buffer.from(out).toString('hex');
}

/** RDN attribute OIDs of a Name (SEQUENCE OF SET OF SEQUENCE {OID, value}); null if malformed. */
function nameOids(buf: Buffer, name: Tlv, prefix: string, names: Record<string, string>): string | null {
  const rdn: Tlv = { tag: 0, start: 0, end: 0 };
  const atv: Tlv = { tag: 0, start: 0, end: 0 };
  const oid: Tlv = { tag: 0, start: 0, end: 0 };
  const val: Tlv = { tag: 0, start: 0, end: 0 };
  let out = '';
  for (let p = name.start; p < name.end; p = rdn.end) {
    if (!readTlv(buf, p, name.end, rdn) || rdn.tag !== TAG_SET) return null;
    for (let q = rdn.start; q < rdn.end; q = atv.end) {
      if (!readTlv(buf, q, rdn.end, atv) || atv.tag !== TAG_SEQUENCE) return null;
      if (!readTlv(buf, atv.start, atv.end, oid) || oid.tag !== TAG_OID || oid.end === oid.start) return null;
      if (!readTlv(buf, oid.end, atv.end, val)) return null;
      const hex = buf.toString('hex', oid.start, oid.end);
      out += (out ? ',' : '') + hex;
      const short = SHORT_NAMES[hex];
      if (short !== undefined) {
        const s = derString(buf, val);
        if (s !== null) names[prefix + short[0].toUpperCase() + short.slice(1)] = s;
      }
    }
  }
  return out;
}

/** Extension OIDs of an Extensions SEQUENCE; null if malformed. */
function extensionOids(buf: Buffer, exts: Tlv): string | null {
  const ext: Tlv = { tag: 0, start: 0, end: 0 };
  const el: Tlv = { tag: 0, start: 0, end: 0 };
  let out = '';
  for (let p = exts.start; p < exts.end; p = ext.end) {
    if (!readTlv(buf, p, exts.end, ext) || ext.tag !== TAG_SEQUENCE) return null;
    if (!readTlv(buf, ext.start, ext.end, el) || el.tag !== TAG_OID || el.end === el.start) return null;
    out += (out ? ',' : '') + buf.toString('hex', el.start, el.end);
    let q = el.end;
    if (!readTlv(buf, q, ext.end, el)) return null;
    if (tagOf(el) === TAG_BOOLEAN) {
      q = el.end;
      if (!readTlv(buf, q, ext.end, el)) return null;
    }
    if (tagOf(el) !== TAG_OCTET_STRING || el.end !== ext.end) return null;
  }
  return out;
}

/** Reads the tag afresh (readTlv rewrites the element, which TypeScript's narrowing does not see). */
function tagOf(t: Tlv): number {
  return t.tag;
}

export function ja4x(der: Uint8Array): Ja4xResult | null {
  const buf = Buffer.isBuffer(der) ? der : Buffer.from(der.buffer, der.byteOffset, der.byteLength);
  const cert: Tlv = { tag: 0, start: 0, end: 0 };
  const tbs: Tlv = { tag: 0, start: 0, end: 0 };
  const t: Tlv = { tag: 0, start: 0, end: 0 };
  if (!readTlv(buf, 0, buf.length, cert) || tagOf(cert) !== TAG_SEQUENCE) return null;
  if (!readTlv(buf, cert.start, cert.end, tbs) || tbs.tag !== TAG_SEQUENCE) return null;
  // signatureAlgorithm SEQUENCE and signatureValue BIT STRING must follow the TBS.
  if (!readTlv(buf, tbs.end, cert.end, t) || tagOf(t) !== TAG_SEQUENCE) return null;
  if (!readTlv(buf, t.end, cert.end, t) || tagOf(t) !== 0x03 || t.end !== cert.end) return null;

  let p = tbs.start;
  if (!readTlv(buf, p, tbs.end, t)) return null;
  if (tagOf(t) === 0xa0) { p = t.end; if (!readTlv(buf, p, tbs.end, t)) return null; } // [0] version
  if (tagOf(t) !== 0x02) return null; // serialNumber
  if (!readTlv(buf, t.end, tbs.end, t) || tagOf(t) !== TAG_SEQUENCE) return null; // signature
  const issuer: Tlv = { tag: 0, start: 0, end: 0 };
  if (!readTlv(buf, t.end, tbs.end, issuer) || issuer.tag !== TAG_SEQUENCE) return null;
  if (!readTlv(buf, issuer.end, tbs.end, t) || tagOf(t) !== TAG_SEQUENCE) return null; // validity
  const subject: Tlv = { tag: 0, start: 0, end: 0 };
  if (!readTlv(buf, t.end, tbs.end, subject) || tagOf(subject) !== TAG_SEQUENCE) return null;
  if (!readTlv(buf, subject.end, tbs.end, t) || tagOf(t) !== TAG_SEQUENCE) return null; // subjectPublicKeyInfo
  let exts = '';
  for (p = t.end; p < tbs.end; p = t.end) {
    if (!readTlv(buf, p, tbs.end, t)) return null;
    if (tagOf(t) === 0x81 || tagOf(t) === 0x82) continue; // issuer/subject unique IDs
    if (tagOf(t) !== 0xa3) return null;
    const seq: Tlv = { tag: 0, start: 0, end: 0 };
    if (!readTlv(buf, t.start, t.end, seq) || tagOf(seq) !== TAG_SEQUENCE || seq.end !== t.end) return null;
    const e = extensionOids(buf, seq);
    if (e === null) return null;
    exts = e;
  }
  const names: Record<string, string> = {};
  const i = nameOids(buf, issuer, 'issuer', names);
  const s = nameOids(buf, subject, 'subject', names);
  if (i === null || s === null) return null;
  return { ja4x: `${hash12(i)}_${hash12(s)}_${hash12(exts)}`, ja4x_r: `${i}_${s}_${exts}`, names };
}
