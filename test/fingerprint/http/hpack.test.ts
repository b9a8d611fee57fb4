import { HpackDecoder, HpackError, readInt } from '../../../src/fingerprint/http/hpack.js';
import { HuffmanError, huffmanDecode, huffmanEncode } from '../../../src/fingerprint/http/huffman.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const pairs = (fields: { name: string; value: string }[]) => fields.map((f) => [f.name, f.value]);

describe('HPACK integers', () => {
  test('RFC 7541 C.1 examples', () => {
    expect(readInt(hex('0a'), 0, 5)).toEqual([10, 1]);
    expect(readInt(hex('1f9a0a'), 0, 5)).toEqual([1337, 3]);
    expect(readInt(hex('2a'), 0, 8)).toEqual([42, 1]);
  });

  test('truncated and oversized integers are errors', () => {
    expect(() => readInt(hex('1f'), 0, 5)).toThrow(HpackError);
    expect(() => readInt(hex('1fffffffffffff01'), 0, 5)).toThrow(HpackError);
  });
});

describe('Huffman', () => {
  test('RFC 7541 C.4 and C.6 strings', () => {
    expect(huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff'), 0, 12).toString()).toBe('www.example.com');
    expect(huffmanDecode(hex('a8eb 1064 9cbf'), 0, 6).toString()).toBe('no-cache');
    expect(huffmanDecode(hex('25a8 49e9 5bb8 e8b4 bf'), 0, 9).toString()).toBe('custom-value');
    const date = hex('d07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff');
    expect(huffmanDecode(date, 0, date.length).toString()).toBe('Mon, 21 Oct 2013 20:13:21 GMT');
    const url = hex('9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3');
    expect(huffmanDecode(url, 0, url.length).toString()).toBe('https://www.example.com');
    const cookie = hex('94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07');
    expect(huffmanDecode(cookie, 0, cookie.length).toString()).toBe('foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1');
  });

  test('every octet round-trips', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const enc = huffmanEncode(all);
    expect(huffmanDecode(enc, 0, enc.length).equals(all)).toBe(true);
  });

  test('bad padding and EOS are errors', () => {
    // 'a' (00011) padded with zeros instead of ones.
    expect(() => huffmanDecode(hex('18'), 0, 1)).toThrow(HuffmanError);
    // A whole byte of padding.
    expect(() => huffmanDecode(hex('1fff'), 0, 2)).toThrow(HuffmanError);
    expect(() => huffmanDecode(hex('ffffffff'), 0, 4)).toThrow(HuffmanError);
  });
});

describe('HPACK header blocks', () => {
  test('RFC 7541 C.3: requests without Huffman share a dynamic table', () => {
    const d = new HpackDecoder();
    expect(pairs(d.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d')))).toEqual([
      [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'],
    ]);
    expect(d.dynamicTableSize).toBe(57);
    expect(pairs(d.decode(hex('8286 84be 5808 6e6f 2d63 6163 6865')))).toEqual([
      [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache'],
    ]);
    expect(d.dynamicTableSize).toBe(110);
    expect(pairs(d.decode(hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65')))).toEqual([
      [':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value'],
    ]);
    expect(d.dynamicTableSize).toBe(164);
    expect(d.dynamicTableLength).toBe(3);
  });

  test('RFC 7541 C.4: the same requests with Huffman coding', () => {
    const d = new HpackDecoder();
    expect(pairs(d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')))).toEqual([
      [':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'],
    ]);
    d.decode(hex('8286 84be 5886 a8eb 1064 9cbf'));
    expect(pairs(d.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')))).toEqual([
      [':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value'],
    ]);
    expect(d.dynamicTableSize).toBe(164);
  });

  test('RFC 7541 C.6: responses evict from a 256-octet table', () => {
    const d = new HpackDecoder(256);
    d.decode(hex('4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3'));
    expect(d.dynamicTableSize).toBe(222);
    expect(pairs(d.decode(hex('4883 640e ffc1 c0bf')))).toEqual([
      [':status', '307'], ['cache-control', 'private'], ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'], ['location', 'https://www.example.com'],
    ]);
    expect(d.dynamicTableSize).toBe(222);
    const third = d.decode(hex('88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07'));
    expect(pairs(third)[5]).toEqual(['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1']);
    expect(d.dynamicTableSize).toBe(215);
  });

  test('a table size update to zero empties the dynamic table', () => {
    const d = new HpackDecoder();
    d.decode(hex('4003 6162 6301 78'));
    expect(d.dynamicTableLength).toBe(1);
    expect(pairs(d.decode(hex('be')))).toEqual([['abc', 'x']]);
    expect(d.decode(hex('20'))).toEqual([]);
    expect(d.dynamicTableLength).toBe(0);
    expect(() => d.decode(hex('be'))).toThrow(HpackError);
  });

  test('malformed blocks throw HpackError, never something else', () => {
    expect(() => new HpackDecoder().decode(hex('80'))).toThrow(HpackError);
    expect(() => new HpackDecoder().decode(hex('ff00'))).toThrow(HpackError);
    expect(() => new HpackDecoder().decode(hex('400a61'))).toThrow(HpackError);
    expect(() => new HpackDecoder().decode(hex('3fffffff0f'))).toThrow(HpackError);
  });
});
