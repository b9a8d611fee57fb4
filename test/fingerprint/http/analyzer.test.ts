import { H2_PREFACE } from '../../../src/fingerprint/http/http1.js';
import { hash12 } from '../../../src/fingerprint/ja4h.js';
import { frame, literal } from '../helpers/h2build.js';
import { runPackets, TcpConversation } from '../helpers/netbuild.js';

describe('HTTP analyzer through the engine', () => {
  test('two requests on a kept-alive cleartext connection, the first split over segments', () => {
    const c = new TcpConversation('192.168.1.10', '93.184.216.34', 51000, 8089).handshake();
    c.data(true, 'GET / HTTP/1.1\r\nHost: a\r\nCookie: s=1\r\n');
    c.ack(false);
    c.data(true, 'Accept-Language: ru-RU,ru;q=0.9\r\n\r\n');
    c.data(false, 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    c.data(true, 'HEAD /x HTTP/1.0\r\nReferer: http://a/\r\n\r\n');
    const recs = runPackets(c.packets).filter((r) => r.type === 'ja4h');
    expect(recs.map((r) => [r.value, r.frame])).toEqual([
      [`ge11cn02ruru_${hash12('Host,Accept-Language')}_${hash12('s')}_${hash12('s=1')}`, 6],
      [`he10nr000000_000000000000_000000000000_000000000000`, 8],
    ]);
    expect(recs[0]).toMatchObject({ src: '192.168.1.10', src_port: 51000, dst: '93.184.216.34', dst_port: 8089 });
  });

  test('HTTP/2 with prior knowledge (h2c)', () => {
    const block = Buffer.concat([Buffer.of(0x82, 0x86, 0x84), literal(':authority', 'h'), literal('accept-language', 'da')]);
    const c = new TcpConversation('10.1.1.1', '10.1.1.2', 40000, 80).handshake();
    c.data(true, Buffer.concat([H2_PREFACE, frame(4, 0, 0, Buffer.alloc(0))]));
    c.data(true, frame(1, 0x5, 1, block));
    const recs = runPackets(c.packets).filter((r) => r.type === 'ja4h');
    expect(recs.map((r) => r.value)).toEqual([`ge20nn05da00_${hash12(':method,:scheme,:path,:authority,accept-language')}_000000000000_000000000000`]);
  });

  test('a TLS connection is not parsed as HTTP, and nothing is emitted', () => {
    const c = new TcpConversation('10.1.1.1', '10.1.1.2', 40001, 443).handshake();
    c.data(true, Buffer.from('1603010005010000010000', 'hex'));
    expect(runPackets(c.packets, { methods: ['ja4h'] })).toEqual([]);
  });
});
