/**
 * Seeded mutation fuzzing of the TLS and QUIC sessions, without the analyzers' safety net: any
 * exception here is a bounds bug. Inputs are hand-built handshakes (TLS 1.2 chain, TLS 1.3 with
 * secrets, QUIC Initials), mutated by bit flips, truncation, 0 / 0xFFFF length-like pairs,
 * duplicated and reordered pieces.
 */
import { readFileSync } from 'node:fs';
import { TlsSession, type TlsSessionEvents } from '../../../src/fingerprint/tls/session.js';
import { QuicConnection } from '../../../src/fingerprint/quic/connection.js';
import { SecretsStore } from '../../../src/fingerprint/decrypt/secrets.js';
import { tls13Seal } from '../../../src/fingerprint/decrypt/tls.js';
import { quicInitialKeys, QUIC_V1 } from '../../../src/fingerprint/quic/keys.js';
import { ja4 } from '../../../src/fingerprint/ja4.js';
import { ja4s } from '../../../src/fingerprint/ja4s.js';
import { ja4x } from '../../../src/fingerprint/ja4x.js';
import { alpnExt, chromeLikeHello, ext, handshake, record, serverHelloBody, u16, vec24 } from '../helpers/tlsbuild.js';
import { cryptoFrame, longPacket } from '../helpers/quicbuild.js';

type Piece = [fromClient: boolean, bytes: Buffer];
const cert = readFileSync(new URL('../../fixtures/tls/selfsigned-ec.der', import.meta.url));
const random = Buffer.alloc(32, 0x42);
const secret = Buffer.alloc(32, 1);
const secrets = new SecretsStore();
secrets.addKeyLogText(`SERVER_HANDSHAKE_TRAFFIC_SECRET ${random.toString('hex')} ${secret.toString('hex')}`);

function corpus(): { udp: boolean; pieces: Piece[] }[] {
  const hello = record(22, handshake(1, chromeLikeHello(random)), 0x0301);
  const tls12: Piece[] = [[true, hello.subarray(0, 100)], [true, hello.subarray(100)], [false, Buffer.concat([
    record(22, handshake(2, serverHelloBody({ cipher: 0xc02f, extensions: [alpnExt('h2')] }))),
    record(22, handshake(11, vec24(vec24(cert), vec24(cert)))),
  ])]];
  const tls13: Piece[] = [[true, hello], [false, Buffer.concat([
    record(22, handshake(2, serverHelloBody({ cipher: 0x1301, extensions: [ext(0x002b, u16(0x0304))] }))),
    tls13Seal(0x1301, secret, 0, 22, handshake(11, Buffer.concat([Buffer.of(0), vec24(Buffer.concat([vec24(cert), u16(0)]))]))),
  ])]];
  const dcid = Buffer.alloc(8, 3);
  const keys = quicInitialKeys(dcid, QUIC_V1)!;
  const ch = handshake(1, chromeLikeHello(random));
  const quic: Piece[] = [
    [true, longPacket({ keys: keys.client, version: QUIC_V1, dcid, scid: Buffer.alloc(4), pn: 0, frames: cryptoFrame(100, ch.subarray(100)) })],
    [true, longPacket({ keys: keys.client, version: QUIC_V1, dcid, scid: Buffer.alloc(4), pn: 1, frames: cryptoFrame(0, ch.subarray(0, 100)) })],
  ];
  return [{ udp: false, pieces: tls12 }, { udp: false, pieces: tls13 }, { udp: true, pieces: quic }];
}

const events: TlsSessionEvents & { streamData(): void } = {
  clientHello: (c) => { ja4(c); },
  serverHello: (s) => { ja4s(s, false); },
  certificates: (ders) => { for (const d of ders) ja4x(d); },
  plaintext: () => undefined,
  streamData: () => undefined,
};

test('10,000 mutated handshakes: no exception, every input ends', () => {
  let seed = 20240601;
  const rnd = (n: number) => { seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff; return seed % n; };
  const inputs = corpus();
  let count = 0;
  for (let i = 0; i < 10000; i++) {
    const input = inputs[i % inputs.length];
    const pieces: Piece[] = input.pieces.map(([c, b]) => [c, Buffer.from(b)]);
    const kind = rnd(6);
    for (let m = 0; m < 1 + rnd(3); m++) {
      const target = pieces[rnd(pieces.length)];
      const b = target[1];
      if (b.length < 2) continue;
      const p = rnd(b.length - 1);
      if (kind === 0) b[p] ^= 1 << rnd(8);
      else if (kind === 1) target[1] = b.subarray(0, p);
      else if (kind === 2) b.writeUInt16BE(0, p);
      else if (kind === 3) b.writeUInt16BE(0xffff, p);
      else if (kind === 4) pieces.splice(rnd(pieces.length), 0, pieces[rnd(pieces.length)]);
      else pieces.reverse();
    }
    if (input.udp) {
      const conn = new QuicConnection(events, secrets);
      for (const [c, b] of pieces) conn.onDatagram(c, b, 0, b.length);
    } else {
      const s = new TlsSession(events, secrets);
      for (const [c, b] of pieces) s.push(c, b);
    }
    count++;
  }
  expect(count).toBe(10000);
});
