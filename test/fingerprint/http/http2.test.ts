import type { HeaderField } from '../../../src/fingerprint/http/hpack.js';
import { H2_PREFACE } from '../../../src/fingerprint/http/http1.js';
import { Http2ClientReader } from '../../../src/fingerprint/http/http2.js';
import { frame, literal } from '../helpers/h2build.js';

const SETTINGS = frame(4, 0, 0, Buffer.alloc(0));

function collect(chunks: Buffer[]): HeaderField[][] {
  const r = new Http2ClientReader(true);
  const out: HeaderField[][] = [];
  for (const c of chunks) r.push(c, (f) => out.push(f));
  expect(r.failed).toBe(false);
  return out;
}

describe('HTTP/2 client frames', () => {
  const block1 = Buffer.concat([Buffer.of(0x82, 0x87, 0x84), literal(':authority', 'example.com'), literal('cookie', 'a=1')]);
  // The second request refers to both dynamic entries: cookie (62) and :authority (63).
  const block2 = Buffer.concat([Buffer.of(0x82, 0x87, 0x85, 0xbf, 0xbe)]);

  test('preface, SETTINGS, two HEADERS using the dynamic table, split at odd places', () => {
    const all = Buffer.concat([H2_PREFACE, SETTINGS, frame(1, 0x5, 1, block1), frame(1, 0x5, 3, block2)]);
    const reqs = collect([all.subarray(0, 5), all.subarray(5, 40), all.subarray(40)]);
    expect(reqs.map((f) => f.map((x) => `${x.name}=${x.value}`))).toEqual([
      [':method=GET', ':scheme=https', ':path=/', ':authority=example.com', 'cookie=a=1'],
      [':method=GET', ':scheme=https', ':path=/index.html', ':authority=example.com', 'cookie=a=1'],
    ]);
  });

  test('padding, priority and CONTINUATION frames', () => {
    const padded = Buffer.concat([Buffer.of(3), Buffer.alloc(5), block1.subarray(0, 4), Buffer.alloc(3)]);
    const reqs = collect([Buffer.concat([H2_PREFACE, frame(1, 0x8 | 0x20, 1, padded), frame(9, 0, 1, block1.subarray(4, 10)), frame(9, 0x4, 1, block1.subarray(10))])]);
    expect(reqs).toHaveLength(1);
    expect(reqs[0].map((x) => x.name)).toEqual([':method', ':scheme', ':path', ':authority', 'cookie']);
  });

  test('header blocks without :method (trailers) are decoded but are not requests', () => {
    const trailers = literal('grpc-status', '0');
    expect(collect([Buffer.concat([H2_PREFACE, frame(1, 0x5, 1, trailers)])])).toEqual([]);
  });

  test('a wrong preface, a broken header block or a stray CONTINUATION stops the reader', () => {
    const bad = new Http2ClientReader(true);
    bad.push(Buffer.from('GET / HTTP/1.1\r\n'), () => {});
    expect(bad.failed).toBe(true);
    const hp = new Http2ClientReader(false);
    hp.push(frame(1, 0x4, 1, Buffer.of(0xff, 0xff)), () => {});
    expect(hp.failed).toBe(true);
    const cont = new Http2ClientReader(false);
    cont.push(Buffer.concat([frame(1, 0, 1, block1.subarray(0, 3)), frame(0, 0, 1, Buffer.alloc(1))]), () => {});
    expect(cont.failed).toBe(true);
  });
});
