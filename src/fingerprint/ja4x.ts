/**
 * JA4X: X.509 certificate fingerprint, as FoxIO's reference computes it:
 * `hash(issuer RDN OIDs)_hash(subject RDN OIDs)_hash(extension OIDs)`, each list the hex of the
 * OIDs' DER content bytes in certificate order, joined with ','.
 *
 * The certificate is walked with a small strict DER reader (./tls/der.ts): a certificate whose
 * structure or lengths are wrong yields null. It reads only what the fingerprint needs, which keeps
 * it in the tens of microseconds per certificate on the sensor's per-connection path.
 */
import { hash12Bytes, HEX_DIGITS } from './hash.js';
import { derString, readTlv, TAG_BOOLEAN, TAG_OCTET_STRING, TAG_OID, TAG_SEQUENCE, TAG_SET, type Tlv } from './tls/der.js';

export interface Ja4xResult {
  ja4x: string;
  ja4x_r: string;
  /** issuerCountryName, subjectCommonName, ... for the attributes with a known short name and a string value. */
  names: Record<string, string>;
}

const NO_NAMES: Record<string, string> = Object.freeze({}) as Record<string, string>;

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

/**
 * Short names by OID content bytes, looked up without making a string per OID: 2.5.4.x (55 04 xx)
 * by its last byte, the few longer OIDs by comparing bytes. Each entry holds the record keys for
 * the issuer and the subject (`issuerCommonName`, `subjectCommonName`).
 */
type NameKeys = readonly [issuer: string, subject: string];
const capitalised = (short: string): string => short[0].toUpperCase() + short.slice(1);
const SHORT_55_04: (NameKeys | undefined)[] = new Array(256);
const SHORT_LONG: { oid: Buffer; keys: NameKeys }[] = [];
for (const [hex, short] of Object.entries(SHORT_NAMES)) {
  const keys: NameKeys = ['issuer' + capitalised(short), 'subject' + capitalised(short)];
  if (hex.length === 6 && hex.startsWith('5504')) SHORT_55_04[parseInt(hex.slice(4), 16)] = keys;
  else SHORT_LONG.push({ oid: Buffer.from(hex, 'hex'), keys });
}

function shortNameKeys(buf: Buffer, start: number, end: number): NameKeys | undefined {
  const n = end - start;
  if (n === 3) return buf[start] === 0x55 && buf[start + 1] === 0x04 ? SHORT_55_04[buf[start + 2]] : undefined;
  for (const e of SHORT_LONG) {
    if (e.oid.length !== n) continue;
    let i = 0;
    while (i < n && e.oid[i] === buf[start + i]) i++;
    if (i === n) return e.keys;
  }
  return undefined;
}

/**
 * The raw form `issuer OIDs_subject OIDs_extension OIDs` is written as hex into one scratch buffer,
 * made a string once and hashed in place (one thread, never re-entered): a hex string per OID and
 * their concatenations were most of the work of a JA4X.
 */
let scratch = Buffer.allocUnsafe(2048);

/** Makes room for `need` bytes of scratch, keeping the first `used`. */
function reserve(need: number, used: number): void {
  if (scratch.length >= need) return;
  const next = Buffer.allocUnsafe(Math.max(need, scratch.length * 2));
  scratch.copy(next, 0, 0, used);
  scratch = next;
}

/** Appends `,` (unless first) and the hex of buf[start, end) at scratch[p]; returns the new end. */
function writeOidHex(buf: Buffer, start: number, end: number, p: number, first: boolean): number {
  reserve(p + 1 + 2 * (end - start), p);
  if (!first) scratch[p++] = 0x2c;
  for (let i = start; i < end; i++) {
    scratch[p++] = HEX_DIGITS[buf[i] >> 4];
    scratch[p++] = HEX_DIGITS[buf[i] & 15];
  }
  return p;
}

/** Writes the RDN attribute OIDs of a Name (SEQUENCE OF SET OF SEQUENCE {OID, value}) at scratch[p]; -1 if malformed. */
function nameOids(buf: Buffer, name: Tlv, subject: boolean, names: Record<string, string> | null, p: number): number {
  const rdn: Tlv = { tag: 0, start: 0, end: 0 };
  const atv: Tlv = { tag: 0, start: 0, end: 0 };
  const oid: Tlv = { tag: 0, start: 0, end: 0 };
  const val: Tlv = { tag: 0, start: 0, end: 0 };
  const from = p;
  for (let q0 = name.start; q0 < name.end; q0 = rdn.end) {
    if (!readTlv(buf, q0, name.end, rdn) || rdn.tag !== TAG_SET) return -1;
    for (let q = rdn.start; q < rdn.end; q = atv.end) {
      if (!readTlv(buf, q, rdn.end, atv) || atv.tag !== TAG_SEQUENCE) return -1;
      if (!readTlv(buf, atv.start, atv.end, oid) || oid.tag !== TAG_OID || oid.end === oid.start) return -1;
      if (!readTlv(buf, oid.end, atv.end, val)) return -1;
      p = writeOidHex(buf, oid.start, oid.end, p, p === from);
      const keys = names === null ? undefined : shortNameKeys(buf, oid.start, oid.end);
      if (keys !== undefined) {
        const s = derString(buf, val);
        if (s !== null) names![keys[subject ? 1 : 0]] = s;
      }
    }
  }
  return p;
}

/** Writes the extension OIDs of an Extensions SEQUENCE at scratch[p] (or only checks it); -1 if malformed. */
function extensionOids(buf: Buffer, exts: Tlv, p: number, write: boolean): number {
  const ext: Tlv = { tag: 0, start: 0, end: 0 };
  const el: Tlv = { tag: 0, start: 0, end: 0 };
  const from = p;
  for (let q0 = exts.start; q0 < exts.end; q0 = ext.end) {
    if (!readTlv(buf, q0, exts.end, ext) || ext.tag !== TAG_SEQUENCE) return -1;
    if (!readTlv(buf, ext.start, ext.end, el) || el.tag !== TAG_OID || el.end === el.start) return -1;
    if (write) p = writeOidHex(buf, el.start, el.end, p, p === from);
    let q = el.end;
    if (!readTlv(buf, q, ext.end, el)) return -1;
    if (tagOf(el) === TAG_BOOLEAN) {
      q = el.end;
      if (!readTlv(buf, q, ext.end, el)) return -1;
    }
    if (tagOf(el) !== TAG_OCTET_STRING || el.end !== ext.end) return -1;
  }
  return p;
}

/** Reads the tag afresh (readTlv rewrites the element, which TypeScript's narrowing does not see). */
function tagOf(t: Tlv): number {
  return t.tag;
}

/** @param withDetails also return the raw form and the issuer/subject names (the reference tool's extra fields). */
export function ja4x(der: Uint8Array, withDetails = true): Ja4xResult | null {
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
  // The last extensions block (there is at most one in a valid certificate) is read after the names.
  const extSeq: Tlv = { tag: 0, start: 0, end: 0 };
  let hasExts = false;
  for (p = t.end; p < tbs.end; p = t.end) {
    if (!readTlv(buf, p, tbs.end, t)) return null;
    if (tagOf(t) === 0x81 || tagOf(t) === 0x82) continue; // issuer/subject unique IDs
    if (tagOf(t) !== 0xa3) return null;
    if (!readTlv(buf, t.start, t.end, extSeq) || tagOf(extSeq) !== TAG_SEQUENCE || extSeq.end !== t.end) return null;
    if (extensionOids(buf, extSeq, 0, false) < 0) return null; // every block must be well-formed
    hasExts = true;
  }
  const names: Record<string, string> | null = withDetails ? {} : null;
  const iEnd = nameOids(buf, issuer, false, names, 0);
  if (iEnd < 0) return null;
  reserve(iEnd + 1, iEnd);
  scratch[iEnd] = 0x5f;
  const sEnd = nameOids(buf, subject, true, names, iEnd + 1);
  if (sEnd < 0) return null;
  reserve(sEnd + 1, sEnd);
  scratch[sEnd] = 0x5f;
  const eEnd = hasExts ? extensionOids(buf, extSeq, sEnd + 1, true) : sEnd + 1;
  if (eEnd < 0) return null;
  return {
    ja4x: `${hash12Bytes(scratch, 0, iEnd)}_${hash12Bytes(scratch, iEnd + 1, sEnd)}_${hash12Bytes(scratch, sEnd + 1, eEnd)}`,
    ja4x_r: withDetails ? scratch.toString('latin1', 0, eEnd) : '',
    names: names ?? NO_NAMES,
  };
}
