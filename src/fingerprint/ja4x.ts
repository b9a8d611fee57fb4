/**
 * JA4X: X.509 certificate fingerprint, as FoxIO's reference computes it:
 * `hash(issuer RDN OIDs)_hash(subject RDN OIDs)_hash(extension OIDs)`, each list the hex of the
 * OIDs' DER content bytes in certificate order, joined with ','. DER is parsed with
 * @peculiar/asn1-x509; a certificate that does not parse yields null.
 */
import { AsnParser } from '@peculiar/asn1-schema';
import { Certificate, type Name } from '@peculiar/asn1-x509';
import { hash12 } from './tls/hash.js';

export interface Ja4xResult {
  ja4x: string;
  ja4x_r: string;
  /** issuerCountryName, subjectCommonName, ... for the attributes with a known short name and a string value. */
  names: Record<string, string>;
}

/** Short names the reference prints (x509-parser's OID registry), by dotted OID. */
const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'commonName',
  '2.5.4.4': 'surname',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'countryName',
  '2.5.4.7': 'localityName',
  '2.5.4.8': 'stateOrProvinceName',
  '2.5.4.9': 'streetAddress',
  '2.5.4.10': 'organizationName',
  '2.5.4.11': 'organizationalUnit',
  '2.5.4.12': 'title',
  '2.5.4.13': 'description',
  '2.5.4.15': 'businessCategory',
  '2.5.4.17': 'postalCode',
  '2.5.4.41': 'name',
  '2.5.4.42': 'givenName',
  '2.5.4.43': 'initials',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.1': 'uid',
  '0.9.2342.19200300.100.1.25': 'domainComponent',
  '1.2.840.113549.1.9.1': 'emailAddress',
  '1.3.6.1.4.1.311.60.2.1.1': 'msJurisdictionLocality',
  '1.3.6.1.4.1.311.60.2.1.2': 'msJurisdictionStateOrProvince',
  '1.3.6.1.4.1.311.60.2.1.3': 'msJurisdictionCountry',
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

function nameOids(name: Name, prefix: string, names: Record<string, string>): string {
  const parts: string[] = [];
  for (const rdn of name) {
    for (const atv of rdn) {
      parts.push(oidHex(atv.type));
      const short = SHORT_NAMES[atv.type];
      const v = atv.value;
      const s = v.utf8String ?? v.printableString ?? v.ia5String ?? v.teletexString ?? v.bmpString ?? v.universalString;
      if (short && s !== undefined) names[prefix + short[0].toUpperCase() + short.slice(1)] = s;
    }
  }
  return parts.join(',');
}

export function ja4x(der: Uint8Array): Ja4xResult | null {
  let cert: Certificate;
  try {
    cert = AsnParser.parse(der, Certificate);
  } catch {
    return null;
  }
  const tbs = cert.tbsCertificate;
  const names: Record<string, string> = {};
  try {
    const issuer = nameOids(tbs.issuer, 'issuer', names);
    const subject = nameOids(tbs.subject, 'subject', names);
    const exts = (tbs.extensions ?? []).map((e) => oidHex(e.extnID)).join(',');
    return {
      ja4x: `${hash12(issuer)}_${hash12(subject)}_${hash12(exts)}`,
      ja4x_r: `${issuer}_${subject}_${exts}`,
      names,
    };
  } catch {
    return null;
  }
}
