import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { ja4x, oidHex } from '../../src/fingerprint/ja4x.js';
import { hash12 } from '../../src/fingerprint/hash.js';
import { readTlv } from '../../src/fingerprint/tls/der.js';

const h12 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);
const der = readFileSync(new URL('../fixtures/tls/selfsigned-ec.der', import.meta.url));

describe('ja4x', () => {
  test('the fixture starts with a two-byte long-form length (as the padding test assumes)', () => {
    expect(der[0]).toBe(0x30);
    expect(der[1]).toBe(0x82);
  });

  test('hash12 follows the reference (its own test vector, and zeros for empty)', () => {
    expect(hash12('551d0f,551d25,551d11')).toBe('aae71e8db6d7');
    expect(hash12('')).toBe('000000000000');
  });

  test('OIDs are printed as the hex of their DER content bytes', () => {
    expect(oidHex('2.5.4.3')).toBe('550403');
    expect(oidHex('2.5.29.17')).toBe('551d11');
    expect(oidHex('1.3.6.1.4.1.311.60.2.1.3')).toBe('2b0601040182373c020103');
    expect(oidHex('1.2.840.113549.1.9.1')).toBe('2a864886f70d010901');
  });

  test('issuer, subject and extension OIDs of an openssl-made certificate', () => {
    const r = ja4x(der)!;
    expect(r.ja4x_r).toBe('550406,55040a,550403_550406,55040a,550403_551d0e,551d23,551d13');
    expect(r.ja4x).toBe(`${h12('550406,55040a,550403')}_${h12('550406,55040a,550403')}_${h12('551d0e,551d23,551d13')}`);
    expect(r.names).toEqual({
      issuerCountryName: 'US', issuerOrganizationName: 'Test Org', issuerCommonName: 'example.com',
      subjectCountryName: 'US', subjectOrganizationName: 'Test Org', subjectCommonName: 'example.com',
    });
  });

  test('the DER reader is strict: indefinite, non-minimal and overlong lengths are rejected', () => {
    const tlv = { tag: 0, start: 0, end: 0 };
    expect(readTlv(Buffer.from('300100', 'hex'), 0, 3, tlv)).toBe(true);
    expect(readTlv(Buffer.from('308000', 'hex'), 0, 3, tlv)).toBe(false); // indefinite
    expect(readTlv(Buffer.from('30810100', 'hex'), 0, 4, tlv)).toBe(false); // long form for a short length
    expect(readTlv(Buffer.from('3082000100', 'hex'), 0, 5, tlv)).toBe(false); // leading zero length byte
    expect(readTlv(Buffer.from('3005000000', 'hex'), 0, 5, tlv)).toBe(false); // runs past its parent
    expect(readTlv(Buffer.from('1f2100', 'hex'), 0, 3, tlv)).toBe(false); // multi-byte tag
    // A certificate with trailing bytes inside its outer SEQUENCE is not a certificate.
    const padded = Buffer.concat([der, Buffer.of(0)]);
    padded.writeUInt16BE(padded.readUInt16BE(2) + 1, 2);
    expect(ja4x(padded)).toBeNull();
  });

  test('bad DER yields null, never an exception', () => {
    expect(ja4x(Buffer.alloc(0))).toBeNull();
    expect(ja4x(Buffer.from('3082ffff', 'hex'))).toBeNull();
    for (let n = 0; n < der.length; n += 7) expect(() => ja4x(der.subarray(0, n))).not.toThrow();
    const flipped = Buffer.from(der);
    for (let i = 0; i < flipped.length; i++) {
      flipped[i] ^= 0xff;
      expect(() => ja4x(flipped)).not.toThrow();
      flipped[i] ^= 0xff;
    }
  });
});
