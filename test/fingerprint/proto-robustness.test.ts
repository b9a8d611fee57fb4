/**
 * Malformed input never escapes the header, HTTP, SSH and DHCP parsers as an exception: seeded
 * random bytes and mutations of valid messages, fed through the parsers and the real engine.
 */
import { ja4dV4 } from '../../src/fingerprint/dhcp/dhcpv4.js';
import { ja4dV6 } from '../../src/fingerprint/dhcp/dhcpv6.js';
import { HpackDecoder, HpackError } from '../../src/fingerprint/http/hpack.js';
import { Http1RequestReader } from '../../src/fingerprint/http/http1.js';
import { Http2ClientReader } from '../../src/fingerprint/http/http2.js';
import { HuffmanError } from '../../src/fingerprint/http/huffman.js';
import { parseTcpOptions } from '../../src/fingerprint/ja4t.js';
import { quicLongPacketType } from '../../src/fingerprint/ja4l.js';
import { runPackets, TcpConversation, udpPacket } from './helpers/netbuild.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

function randomBytes(r: () => number, max: number): Buffer {
  const len = Math.floor(r() * max);
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) b[i] = Math.floor(r() * 256);
  return b;
}

function mutate(r: () => number, src: Buffer): Buffer {
  const b = Buffer.from(src);
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n && b.length > 0; i++) {
    const at = Math.floor(r() * b.length);
    const what = r();
    if (what < 0.5) b[at] ^= 1 << Math.floor(r() * 8);
    else if (what < 0.75) b[at] = r() < 0.5 ? 0 : 0xff;
    else return b.subarray(0, at);
  }
  return b;
}

describe('parsers never throw on malformed bytes', () => {
  test('TCP options, QUIC headers, DHCP', () => {
    const r = rng(1);
    for (let i = 0; i < 3000; i++) {
      const b = randomBytes(r, 400);
      expect(() => parseTcpOptions(1, b, 0, b.length)).not.toThrow();
      expect(() => quicLongPacketType(b, 0, b.length)).not.toThrow();
      expect(() => ja4dV4(b, 0, b.length)).not.toThrow();
      expect(() => ja4dV6(b, 0, b.length)).not.toThrow();
      if (b.length > 240) {
        b.writeUInt32BE(0x63825363, 236);
        b[0] = 1;
        expect(() => ja4dV4(b, 0, b.length)).not.toThrow();
      }
    }
  });

  test('HTTP/1 and HTTP/2 readers, HPACK only throws its own errors', () => {
    const r = rng(2);
    const request = Buffer.from('POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nCookie: a=1; b\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    const block = Buffer.from('82868441 8cf1e3c2 e5f23a6b a0ab90f4 ff 5886a8eb10649cbf'.replace(/ /g, ''), 'hex');
    for (let i = 0; i < 3000; i++) {
      const h1 = new Http1RequestReader();
      const m = mutate(r, request);
      expect(() => { h1.push(m.subarray(0, m.length >> 1), () => {}); h1.push(m.subarray(m.length >> 1), () => {}); }).not.toThrow();
      const h2 = new Http2ClientReader(false);
      expect(() => h2.push(randomBytes(r, 300), () => {})).not.toThrow();
      try {
        new HpackDecoder().decode(mutate(r, block));
      } catch (err) {
        expect(err instanceof HpackError || err instanceof HuffmanError).toBe(true);
      }
    }
  });

  test('mutated SSH, HTTP and DHCP conversations through the engine', () => {
    const r = rng(3);
    for (let i = 0; i < 150; i++) {
      const ssh = new TcpConversation('10.0.0.1', '10.0.0.2', 40000 + i, 22).handshake();
      ssh.data(true, 'SSH-2.0-c\r\n').data(false, 'SSH-2.0-s\r\n').data(true, randomBytes(r, 600)).data(false, randomBytes(r, 600));
      const http = new TcpConversation('10.0.0.1', '10.0.0.3', 40000 + i, 80).handshake();
      http.data(true, mutate(r, Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nCookie: x=1\r\n\r\n')));
      const packets = [...ssh.packets, ...http.packets].map((p) => ({ tsUs: p.tsUs, data: r() < 0.3 ? mutate(r, p.data) : p.data }));
      packets.push({ tsUs: 1e15, data: udpPacket({ src: '0.0.0.0', dst: '255.255.255.255', sport: 68, dport: 67, payload: randomBytes(r, 400) }) });
      expect(() => runPackets(packets)).not.toThrow();
    }
  });
});
