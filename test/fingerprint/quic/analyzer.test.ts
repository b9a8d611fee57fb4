import { createQuicAnalyzer } from '../../../src/fingerprint/quic/analyzer.js';
import { quicInitialKeys, QUIC_V1, QUIC_V2 } from '../../../src/fingerprint/quic/keys.js';
import { run, udp } from '../helpers/packets.js';
import { cryptoFrame, longPacket } from '../helpers/quicbuild.js';
import { alpnExt, chromeLikeHello, ext, handshake, serverHelloBody, u16 } from '../helpers/tlsbuild.js';
import { ja4 } from '../../../src/fingerprint/ja4.js';
import { parseClientHello } from '../../../src/fingerprint/tls/hello.js';

const dcid = Buffer.from('0011223344556677', 'hex');
const cscid = Buffer.from('aabbccdd', 'hex');
const sscid = Buffer.from('99887766', 'hex');

/** A QUIC ClientHello big enough (post-quantum key share) to need two Initial packets. */
function bigHello(): Buffer {
  const body = chromeLikeHello();
  const ch = parseClientHello(body, 0, body.length)!;
  expect(ch).not.toBeNull();
  // Append quic_transport_parameters and a 1200-byte key share-like extension by rebuilding.
  const extra = Buffer.concat([ext(0x0039, Buffer.alloc(40, 1)), ext(0xfe0d, Buffer.alloc(1200, 7))]);
  const extLenOff = body.length - (body.readUInt16BE(2 + 32 + 33 + 2 + 32 + 2) + 2);
  const out = Buffer.concat([body, extra]);
  out.writeUInt16BE(out.readUInt16BE(extLenOff) + extra.length, extLenOff);
  return handshake(1, out);
}

function expectedJa4(msg: Buffer): string {
  return ja4(parseClientHello(msg, 4, msg.length - 4)!).ja4;
}

describe.each([['v1', QUIC_V1], ['v2', QUIC_V2]])('QUIC %s analyzer', (_name, version) => {
  const keys = quicInitialKeys(dcid, version)!;
  const msg = bigHello();
  const mid = 700;

  test('a ClientHello spanning two Initials, CRYPTO frames out of order, gives q-prefixed JA4; ServerHello gives JA4S', () => {
    const first = longPacket({ keys: keys.client, version, dcid, scid: cscid, pn: 0, frames: Buffer.concat([cryptoFrame(mid, msg.subarray(mid)), Buffer.of(1)]), padTo: 1200 });
    const second = longPacket({ keys: keys.client, version, dcid, scid: cscid, pn: 1, frames: cryptoFrame(0, msg.subarray(0, mid)), padTo: 1200 });
    const sh = handshake(2, serverHelloBody({ cipher: 0x1301, extensions: [ext(0x002b, u16(0x0304)), ext(0x0033, Buffer.alloc(36)), alpnExt('h3')] }));
    const server = longPacket({ keys: keys.server, version, dcid: cscid, scid: sscid, pn: 0, frames: cryptoFrame(0, sh) });
    const recs = run([createQuicAnalyzer], [udp(true, first), udp(true, second), udp(false, server)]);
    const j = recs.find((r) => r.type === 'ja4')!;
    expect(j.value).toBe(expectedJa4(msg));
    expect(j.value.startsWith('q13d')).toBe(true);
    expect(j).toMatchObject({ frame: 2, transport: 'udp', src: '10.0.0.1', dst_port: 443 });
    const s = recs.find((r) => r.type === 'ja4s')!;
    expect(s.value.startsWith('q1303h3_1301_')).toBe(true);
    expect(s.frame).toBe(3);
  });

  test('overlapping and repeated CRYPTO frames, and coalesced packets in one datagram', () => {
    const a = longPacket({ keys: keys.client, version, dcid, scid: cscid, pn: 0, frames: Buffer.concat([cryptoFrame(0, msg.subarray(0, 300)), cryptoFrame(200, msg.subarray(200, 500))]) });
    const b = longPacket({ keys: keys.client, version, dcid, scid: cscid, pn: 1, frames: Buffer.concat([cryptoFrame(0, msg.subarray(0, 100)), cryptoFrame(500, msg.subarray(500))]) });
    const recs = run([createQuicAnalyzer], [udp(true, Buffer.concat([a, b, Buffer.alloc(30)]))]);
    expect(recs.map((r) => r.value)).toEqual([expectedJa4(msg)]);
  });

  test('corrupted packets are dropped without an exception', () => {
    const good = longPacket({ keys: keys.client, version, dcid, scid: cscid, pn: 0, frames: cryptoFrame(0, msg) });
    const frames: Buffer[] = [];
    for (let i = 0; i < good.length; i += 37) {
      const bad = Buffer.from(good);
      bad[i] ^= 0x5a;
      frames.push(udp(true, bad));
    }
    frames.push(udp(true, good.subarray(0, 40)));
    expect(() => run([createQuicAnalyzer], frames)).not.toThrow();
  });
});
