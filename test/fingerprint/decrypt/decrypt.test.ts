import { createCipheriv, createHmac } from 'node:crypto';
import { SecretsStore } from '../../../src/fingerprint/decrypt/secrets.js';
import { prf, tls12Keys, tls13Seal, Tls13Direction, tls13Suite } from '../../../src/fingerprint/decrypt/tls.js';
import { hkdfExpandLabel } from '../../../src/fingerprint/decrypt/hkdf.js';
import { createTlsAnalyzer } from '../../../src/fingerprint/tls/analyzer.js';
import { run, TcpConversation } from '../helpers/packets.js';
import { chromeLikeHello, ext, handshake, record, serverHelloBody } from '../helpers/tlsbuild.js';

const R = 'ab'.repeat(32);

describe('key-log secrets store', () => {
  test('parses NSS lines, skips comments, bad labels and bad hex', () => {
    const s = new SecretsStore();
    const n = s.addKeyLogText([
      '# comment',
      `CLIENT_RANDOM ${R} ${'11'.repeat(48)}`,
      `CLIENT_TRAFFIC_SECRET_0 ${R.toUpperCase()} ${'22'.repeat(32)}`,
      `UNKNOWN_LABEL ${R} ${'33'.repeat(32)}`,
      `CLIENT_RANDOM zz${R.slice(2)} ${'11'.repeat(48)}`,
      `CLIENT_RANDOM ${R}`,
      '',
    ].join('\r\n'));
    expect(n).toBe(2);
    const random = Buffer.from(R, 'hex');
    expect(s.get(random, 'CLIENT_RANDOM')?.length).toBe(48);
    expect(s.get(random, 'CLIENT_TRAFFIC_SECRET_0')?.toString('hex')).toBe('22'.repeat(32));
    expect(s.get(Buffer.alloc(32), 'CLIENT_RANDOM')).toBeUndefined();
  });

  test('a missing key-log file is a one-line error naming it', () => {
    expect(() => new SecretsStore().addKeyLogFile('/nonexistent/keys.log')).toThrow('cannot read key log /nonexistent/keys.log: ENOENT');
  });
});

describe('TLS record decryption', () => {
  test('TLS 1.2 PRF (SHA-256) test vector', () => {
    const out = prf('sha256', Buffer.from('9bbe436ba940f017b17652849a71db35', 'hex'), 'test label', Buffer.from('a0ba9f936cda311827a6f796ffd5198c', 'hex'), 100);
    expect(out.subarray(0, 16).toString('hex')).toBe('e3f229ba727be17b8d122620557cd453');
  });

  test('TLS 1.3 seal/open round trip over epochs (handshake then application keys)', () => {
    const suite = tls13Suite(0x1302)!;
    const hs = Buffer.alloc(48, 5), app = Buffer.alloc(48, 6);
    const dir = new Tls13Direction(suite, [hs, app]);
    const r1 = tls13Seal(0x1302, hs, 0, 22, Buffer.from('finished'));
    const r2 = tls13Seal(0x1302, app, 0, 23, Buffer.from('hello'));
    expect(dir.open(r1, 5, r1.length - 5)).toEqual({ type: 22, data: Buffer.from('finished') });
    expect(dir.open(r2, 5, r2.length - 5)).toEqual({ type: 23, data: Buffer.from('hello') });
    const bad = Buffer.from(r2); bad[bad.length - 1] ^= 1;
    expect(dir.open(bad, 5, bad.length - 5)).toBeNull();
  });

  test('HKDF-Expand-Label follows RFC 8448 (client handshake key)', () => {
    const secret = Buffer.from('b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21', 'hex');
    expect(hkdfExpandLabel('sha256', secret, 'key', Buffer.alloc(0), 16).toString('hex')).toBe('dbfaa693d1762c5b666af5d950258d01');
    expect(hkdfExpandLabel('sha256', secret, 'iv', Buffer.alloc(0), 12).toString('hex')).toBe('5bd3c71b836e0b76bb73265f');
  });

  function tls12Conversation(cipher: number, seal: (keys: { key: Buffer; iv: Buffer; mac: Buffer }, seq: number, type: number, data: Buffer) => Buffer) {
    const random = Buffer.alloc(32, 0x42), srandom = Buffer.alloc(32, 0x24), master = Buffer.alloc(48, 9);
    const suite = { 0xc02f: { mac: 0, key: 16, iv: 4 }, 0xc013: { mac: 20, key: 16, iv: 16 } }[cipher]!;
    const kb = prf('sha256', master, 'key expansion', Buffer.concat([srandom, random]), 2 * (suite.mac + suite.key + suite.iv));
    const client = { mac: kb.subarray(0, suite.mac), key: kb.subarray(2 * suite.mac, 2 * suite.mac + suite.key), iv: kb.subarray(2 * suite.mac + 2 * suite.key, 2 * suite.mac + 2 * suite.key + suite.iv) };
    const c = new TcpConversation();
    c.send(true, record(22, handshake(1, chromeLikeHello(random)), 0x0301));
    c.send(false, record(22, handshake(2, serverHelloBody({ random: srandom, cipher, extensions: [ext(0xff01, Buffer.of(0))] }))));
    c.send(true, Buffer.concat([record(20, Buffer.of(1)), seal(client, 0, 22, handshake(20, Buffer.alloc(12))), seal(client, 1, 23, Buffer.from('GET / HTTP/1.1\r\n\r\n'))]));
    const seen: string[] = [];
    const sniff = () => ({ name: 'sniff', methods: ['ja4h' as const], onPlaintext: (_f: unknown, _c: boolean, b: Buffer) => { seen.push(b.toString()); } });
    run([createTlsAnalyzer, sniff], c.frames, `CLIENT_RANDOM ${random.toString('hex')} ${master.toString('hex')}`);
    expect(tls12Keys(cipher, 0x0303, master, random, srandom, false)).not.toBeNull();
    return seen;
  }

  const aad = (seq: number, type: number, len: number) => {
    const h = Buffer.alloc(13); h.writeUInt32BE(seq, 4); h[8] = type; h.writeUInt16BE(0x0303, 9); h.writeUInt16BE(len, 11); return h;
  };

  test('TLS 1.2 AES-GCM application data is decrypted with CLIENT_RANDOM', () => {
    const seen = tls12Conversation(0xc02f, (k, seq, type, data) => {
      const explicit = Buffer.alloc(8); explicit.writeUInt32BE(seq, 4);
      const c = createCipheriv('aes-128-gcm', k.key, Buffer.concat([k.iv, explicit]));
      c.setAAD(aad(seq, type, data.length));
      return record(type, Buffer.concat([explicit, c.update(data), c.final(), c.getAuthTag()]));
    });
    expect(seen).toEqual(['GET / HTTP/1.1\r\n\r\n']);
  });

  test('TLS 1.2 AES-CBC-SHA (MAC then encrypt) application data is decrypted', () => {
    const seen = tls12Conversation(0xc013, (k, seq, type, data) => {
      const mac = createHmac('sha1', k.mac).update(aad(seq, type, data.length)).update(data).digest();
      let pt = Buffer.concat([data, mac]);
      const pad = 15 - (pt.length % 16);
      pt = Buffer.concat([pt, Buffer.alloc(pad + 1, pad)]);
      const iv = Buffer.alloc(16, seq + 1);
      const c = createCipheriv('aes-128-cbc', k.key, iv); c.setAutoPadding(false);
      return record(type, Buffer.concat([iv, c.update(pt), c.final()]));
    });
    expect(seen).toEqual(['GET / HTTP/1.1\r\n\r\n']);
  });
});
