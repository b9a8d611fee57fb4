import { ja4s } from '../../src/fingerprint/ja4s.js';
import { parseServerHello } from '../../src/fingerprint/tls/hello.js';
import { alpnExt, ext, serverHelloBody, u16 } from './helpers/tlsbuild.js';

describe('ja4s', () => {
  test('matches the reference example (TLS 1.2, extensions in wire order)', () => {
    const body = serverHelloBody({ cipher: 0xc030, extensions: [ext(0x0005), ext(0x0017), ext(0xff01, Buffer.of(0)), ext(0x0000)] });
    const sh = parseServerHello(body, 0, body.length)!;
    expect(ja4s(sh, false)).toEqual({ ja4s: 't120400_c030_4e8089b08790', ja4s_r: 't120400_c030_0005,0017,ff01,0000' });
  });

  test('TLS 1.3 version from supported_versions, ALPN, QUIC prefix', () => {
    const body = serverHelloBody({ cipher: 0x1301, extensions: [ext(0x0033, Buffer.alloc(36)), ext(0x002b, u16(0x0304)), alpnExt('h3')] });
    const sh = parseServerHello(body, 0, body.length)!;
    expect(ja4s(sh, true).ja4s_r).toBe('q1303h3_1301_0033,002b,0010');
    expect(ja4s(sh, false).ja4s.startsWith('t1303h3_1301_')).toBe(true);
  });

  test('truncated server hellos never throw', () => {
    const body = serverHelloBody({ cipher: 0x1301, extensions: [ext(0x002b, u16(0x0304)), alpnExt('h2')] });
    for (let n = 0; n <= body.length; n++) {
      const sh = parseServerHello(body, 0, n);
      if (sh) expect(ja4s(sh, false).ja4s).toMatch(/^t/);
    }
  });
});
