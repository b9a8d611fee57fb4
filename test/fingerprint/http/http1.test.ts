import type { Http1Request } from '../../../src/fingerprint/ja4h.js';
import { H2_PREFACE, Http1RequestReader, MAX_HEAD_BYTES, parseRequestHead } from '../../../src/fingerprint/http/http1.js';

function feed(chunks: (string | Buffer)[]): { reqs: Http1Request[]; outcome: string; reader: Http1RequestReader } {
  const reader = new Http1RequestReader();
  const reqs: Http1Request[] = [];
  let outcome = '';
  for (const c of chunks) outcome = reader.push(typeof c === 'string' ? Buffer.from(c, 'latin1') : c, (r) => reqs.push(r));
  return { reqs, outcome, reader };
}

describe('HTTP/1 request heads', () => {
  test('request line and header lines', () => {
    const b = Buffer.from('GET /a?b HTTP/1.1\r\nHost: x\r\nAccept:  */* \r\nno colon line\r\n\r\n');
    expect(parseRequestHead(b, 0, b.length)).toEqual({
      method: 'GET', version: 'HTTP/1.1',
      headers: [{ name: 'Host', value: 'x' }, { name: 'Accept', value: '*/* ' }],
    });
  });

  test('a target with a space leaves a version that is not HTTP/x.y: no request', () => {
    const b = Buffer.from('GET /Hello Arkime HTTP/1.0\r\n\r\n');
    expect(parseRequestHead(b, 0, b.length)).toBeNull();
  });

  test('heads split across segments, pipelined requests, bodies skipped', () => {
    const { reqs } = feed([
      'POST /x HTTP/1.1\r\nHo', 'st: a\r\nContent-Length: 5\r\n\r\nhel', 'loGET /y HTTP/1.1\r\nHost: b\r\n\r\n',
      'GET /z HTTP/1.0\nHost: c\n\n',
    ]);
    expect(reqs.map((r) => [r.method, r.headers[0].value])).toEqual([['POST', 'a'], ['GET', 'b'], ['GET', 'c']]);
  });

  test('chunked bodies with extensions and trailers', () => {
    const { reqs, outcome } = feed([
      'POST /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n',
      'GET /next HTTP/1.1\r\n\r\n',
    ]);
    expect(reqs.map((r) => r.method)).toEqual(['POST', 'GET']);
    expect(outcome).toBe('continue');
  });

  test('CONNECT ends parsing (a tunnel follows), so does something that is not HTTP', () => {
    expect(feed(['CONNECT h:443 HTTP/1.1\r\n\r\n\x16\x03\x01']).outcome).toBe('stopped');
    const tls = feed([Buffer.from('160301020001', 'hex')]);
    expect(tls.outcome).toBe('stopped');
    expect(tls.reqs).toHaveLength(0);
  });

  test('the HTTP/2 preface hands over, with the bytes after it', () => {
    const { outcome, reader } = feed([H2_PREFACE.subarray(0, 10), Buffer.concat([H2_PREFACE.subarray(10), Buffer.from('abc')])]);
    expect(outcome).toBe('http2');
    expect(reader.http2Leftover?.toString('latin1')).toBe(H2_PREFACE.toString('latin1') + 'abc');
  });

  test('an endless head is given up at the cap', () => {
    const { outcome } = feed(['GET / HTTP/1.1\r\n', Buffer.alloc(MAX_HEAD_BYTES + 10, 0x61)]);
    expect(outcome).toBe('stopped');
  });
});
