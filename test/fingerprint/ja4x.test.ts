import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { ja4x, oidHex } from '../../src/fingerprint/ja4x.js';
import { hash12 } from '../../src/fingerprint/tls/hash.js';

const h12 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);
const der = readFileSync(new URL('../fixtures/tls/selfsigned-ec.der', import.meta.url));

describe('ja4x', () => {
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
