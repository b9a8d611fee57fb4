import { decodeFieldSection } from '../../../src/fingerprint/quic/qpack.js';
import { Http3Requests } from '../../../src/fingerprint/quic/http3.js';
import { createQuicAnalyzer } from '../../../src/fingerprint/quic/analyzer.js';
import { keysFromSecret, quicInitialKeys, QUIC_V1 } from '../../../src/fingerprint/quic/keys.js';
import { SecretsStore } from '../../../src/fingerprint/decrypt/secrets.js';
import { run, udp } from '../helpers/packets.js';
import { cryptoFrame, longPacket, shortPacket, varint } from '../helpers/quicbuild.js';
import { chromeLikeHello, ext, handshake, serverHelloBody, u16 } from '../helpers/tlsbuild.js';

/** A request header section: static GET, :authority literal, a literal-name header, static accept-language name. */
function section(): Buffer {
  const lit = (s: string) => Buffer.concat([Buffer.of(s.length), Buffer.from(s)]);
  return Buffer.concat([
    Buffer.of(0x00, 0x00), // Required Insert Count 0, Delta Base 0
    Buffer.of(0xc0 | 17), // :method GET
    Buffer.of(0x50), lit('example.com'), // :authority (static 0) literal value
    Buffer.of(0xc0 | 23), // :scheme https
    Buffer.of(0xc0 | 1), // :path /
    Buffer.of(0x20 | 6), Buffer.from('x-test'), lit('1'), // literal name
    Buffer.of(0x5f, 72 - 15), lit('en-US,en;q=0.9'), // accept-language (static 72, 4-bit prefix overflow)
  ]);
}

const h3Headers = (s: Buffer) => Buffer.concat([varint(1), varint(s.length), s]);

describe('QPACK and HTTP/3 requests', () => {
  test('static references and literals decode; dynamic references and bad input give null', () => {
    const s = section();
    expect(decodeFieldSection(s, 0, s.length, null)).toEqual([
      { name: ':method', value: 'GET' }, { name: ':authority', value: 'example.com' }, { name: ':scheme', value: 'https' },
      { name: ':path', value: '/' }, { name: 'x-test', value: '1' }, { name: 'accept-language', value: 'en-US,en;q=0.9' },
    ]);
    expect(decodeFieldSection(Buffer.of(0x02, 0x00, 0x80), 0, 3, null)).toBeNull(); // needs the dynamic table
    expect(decodeFieldSection(Buffer.of(0x00, 0x00, 0xff, 0xff), 0, 4, null)).toBeNull();
    expect(decodeFieldSection(Buffer.of(0x00, 0x00, 0x50, 0x8a, 0x01), 0, 5, null)).toBeNull(); // Huffman without a decoder
    for (let n = 0; n < s.length; n++) expect(() => decodeFieldSection(s, 0, n, null)).not.toThrow();
  });

  test('a HEADERS frame split across stream pieces is decoded once', () => {
    const got: string[] = [];
    const reqs = new Http3Requests((id, f) => got.push(`${id}:${f.length}`), null);
    const frame = h3Headers(section());
    reqs.push(0, frame.subarray(0, 5), false);
    reqs.push(0, frame.subarray(5), false);
    reqs.push(0, Buffer.of(0x00, 0x01, 0x00), true);
    reqs.push(4, Buffer.concat([Buffer.of(0x21, 0x00), frame]), true); // a reserved frame first
    expect(got).toEqual(['0:6', '4:6']);
  });

  test('1-RTT packets decrypted with key-log secrets yield the request headers for JA4H', () => {
    const dcid = Buffer.from('0102030405060708', 'hex'), cscid = Buffer.from('c1c2c3c4', 'hex'), sscid = Buffer.from('d1d2d3d4d5', 'hex');
    const random = Buffer.alloc(32, 0x77);
    const init = quicInitialKeys(dcid, QUIC_V1)!;
    const hello = chromeLikeHello(random);
    const ch = handshake(1, hello);
    const sh = handshake(2, serverHelloBody({ cipher: 0x1301, extensions: [ext(0x002b, u16(0x0304))] }));
    const cap = Buffer.alloc(32, 0x55);
    const appKeys = keysFromSecret(cap, 0x1301, QUIC_V1)!;
    const stream = Buffer.concat([Buffer.of(0x0b), varint(0), varint(h3Headers(section()).length), h3Headers(section())]); // STREAM id 0, len, fin
    const frames = [
      udp(true, longPacket({ keys: init.client, version: QUIC_V1, dcid, scid: cscid, pn: 0, frames: cryptoFrame(0, ch), padTo: 1200 })),
      udp(false, longPacket({ keys: init.server, version: QUIC_V1, dcid: cscid, scid: sscid, pn: 0, frames: cryptoFrame(0, sh) })),
      udp(true, shortPacket(appKeys, sscid, 0, stream)),
    ];
    const seen: string[] = [];
    const hooks = {
      huffman: () => { throw new Error('no huffman in this test'); },
      ja4h: (fields: { name: string; value: string }[]) => { seen.push(fields.map((f) => f.name).join(',')); return { value: 'ja4h-of-request' }; },
    };
    const keyLog = `CLIENT_TRAFFIC_SECRET_0 ${random.toString('hex')} ${cap.toString('hex')}`;
    const recs = run([(o) => createQuicAnalyzer(o, new SecretsStore(), hooks)], frames, keyLog);
    expect(seen).toEqual([':method,:authority,:scheme,:path,x-test,accept-language']);
    expect(recs.find((r) => r.type === 'ja4h')).toMatchObject({ value: 'ja4h-of-request', frame: 3, transport: 'udp' });
    // The default hooks are the HTTP family's JA4H (version 30).
    const real = run([createQuicAnalyzer], frames, keyLog).find((r) => r.type === 'ja4h')!;
    expect(real.value).toMatch(/^ge30nn06enus_[0-9a-f]{12}_000000000000_000000000000$/);
    expect(real.ja4h_r).toBe('ge30nn06enus_:method,:authority,:scheme,:path,x-test,accept-language__');
    // Without secrets nothing past the handshake is read.
    seen.length = 0;
    run([(o) => createQuicAnalyzer(o, new SecretsStore(), hooks)], frames);
    expect(seen).toEqual([]);
  });
});
