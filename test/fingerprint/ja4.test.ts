import { ja4, alpnChars } from '../../src/fingerprint/ja4.js';
import { parseClientHello } from '../../src/fingerprint/tls/hello.js';
import {
  alpnExt, chromeLikeHello, clientHelloBody, ext, sigAlgsExt, sniExt, supportedVersionsExt, u16, vec16,
} from './helpers/tlsbuild.js';

function fp(body: Buffer): string {
  const ch = parseClientHello(body, 0, body.length);
  if (!ch) throw new Error('no hello');
  return ja4(ch).ja4;
}

describe('ja4', () => {
  test('GREASE in ciphers, extensions and supported_versions is ignored (matches the reference example)', () => {
    const body = chromeLikeHello();
    const ch = parseClientHello(body, 0, body.length)!;
    expect(ch.ciphers).toContain(0x0a0a);
    expect(ch.supportedVersions).toEqual([0x3a3a, 0x0304, 0x0303]);
    const r = ja4(ch);
    expect(r.ja4).toBe('t13d1516h2_8daaf6152771_e5627efa2ab1');
    expect(r.ja4_r).toBe(
      't13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_' +
      '0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601');
  });

  test('a GREASE value as the highest supported_version does not become the version', () => {
    const body = clientHelloBody({ ciphers: [0x1301], extensions: [supportedVersionsExt(0xfafa, 0x0303)] });
    expect(fp(body).slice(0, 3)).toBe('t12');
  });

  test('no SNI gives "i"', () => {
    const body = clientHelloBody({ ciphers: [0x1301, 0x1302], extensions: [alpnExt('h2'), supportedVersionsExt(0x0304)] });
    expect(fp(body)).toMatch(/^t13i0202h2_/);
  });

  test('no extensions at all: count 00, ALPN 00, extension hash of nothing', () => {
    const body = clientHelloBody({ version: 0x0301, ciphers: [0x0005, 0x0004], extensions: null });
    expect(fp(body)).toBe('t10i020000_' + fp(body).split('_')[1] + '_000000000000');
  });

  test('an empty extensions block also hashes to zeros', () => {
    const body = clientHelloBody({ ciphers: [0x002f], extensions: [] });
    expect(fp(body)).toMatch(/^t12i010000_[0-9a-f]{12}_000000000000$/);
  });

  test('an ALPN of one character gives that character and 0', () => {
    const body = clientHelloBody({ ciphers: [0x1301], extensions: [alpnExt('a')] });
    expect(fp(body)).toMatch(/^t12i0101a0_/);
  });

  test('ALPN of non-ASCII bytes gives 9s (as the reference does for tls-non-ascii-alpn)', () => {
    const body = clientHelloBody({ ciphers: [0x1301], extensions: [alpnExt(Buffer.of(0xba, 0xad), 'http/1.1')] });
    expect(fp(body)).toMatch(/^t12i010199_/);
    expect(alpnChars(Buffer.of(0x68, 0xff))).toBe('h9');
    expect(alpnChars(Buffer.from('@#'))).toBe('@#');
    expect(alpnChars(Buffer.alloc(0))).toBe('00');
  });

  test('signature algorithms are only taken from signature_algorithms, in wire order', () => {
    const delegatedCredentials = ext(0x0022, vec16(u16(0x0807)));
    const body = clientHelloBody({ ciphers: [0x1301], extensions: [delegatedCredentials, sigAlgsExt(0x0804, 0x0403)] });
    const ch = parseClientHello(body, 0, body.length)!;
    expect(ja4(ch).ja4_r).toBe('t12i010200_1301_000d,0022_0804,0403');
  });

  test('no signature algorithms: no trailing underscore in the hashed string', () => {
    const body = clientHelloBody({ ciphers: [0x1301], extensions: [ext(0x0017)] });
    const ch = parseClientHello(body, 0, body.length)!;
    expect(ja4(ch).ja4_r).toBe('t12i010100_1301_0017');
  });

  test('an extensions block shorter than it claims: no exception, the extensions present are used', () => {
    const good = clientHelloBody({ ciphers: [0x1301], extensions: [sniExt('a.example'), ext(0x0017), ext(0x0023)] });
    // Claim 40 more bytes than there are.
    const bad = Buffer.from(good);
    const extLenOff = 2 + 32 + 33 + 4 + 2;
    bad.writeUInt16BE(bad.readUInt16BE(extLenOff) + 40, extLenOff);
    const ch = parseClientHello(bad, 0, bad.length)!;
    expect(ch.truncated).toBe(true);
    expect(ch.extensions).toEqual([0x0000, 0x0017, 0x0023]);
    expect(ja4(ch).ja4).toBe(fp(good));
    // Cut inside the last extension's body: its type still counts, nothing throws.
    const cut = Buffer.concat([good, Buffer.from('0010000a0008', 'hex')]);
    cut.writeUInt16BE(cut.readUInt16BE(extLenOff) + 6, extLenOff);
    expect(() => fp(cut)).not.toThrow();
    expect(fp(cut)).toMatch(/^t12d0104/);
  });

  test('every truncation of a hello parses without throwing', () => {
    const body = chromeLikeHello();
    for (let n = 0; n <= body.length; n++) {
      const ch = parseClientHello(body, 0, n);
      if (ch) expect(typeof ja4(ch).ja4).toBe('string');
    }
  });

  test('QUIC transport parameters give the q prefix', () => {
    const body = clientHelloBody({ ciphers: [0x1301], extensions: [ext(0x0039, Buffer.alloc(4)), supportedVersionsExt(0x0304)] });
    expect(fp(body)).toMatch(/^q13i0102/);
  });

  test('more than 99 ciphers are capped at 99', () => {
    const ciphers = Array.from({ length: 120 }, (_, i) => 0x0100 + i);
    expect(fp(clientHelloBody({ ciphers, extensions: null }))).toMatch(/^t12i9900/);
  });
});

test('original-order forms match the reference example', () => {
  const body = chromeLikeHello();
  const r = ja4(parseClientHello(body, 0, body.length)!, true);
  expect(r.ja4_ro.startsWith('t13d1516h2_1301,1302,1303,c02b,c02f,c02c,c030,cca9,cca8,c013,c014,009c,009d,002f,0035_')).toBe(true);
  expect(r.ja4_o?.split('_')[1]).toBe('acb858a92679');
});
