/** HTTP/3 requests → JA4H with the HTTP family's own pieces (the shared HPACK/QPACK Huffman code, JA4H of a header list). */
import { huffmanDecode } from '../http/huffman.js';
import { ja4h, ja4hInputFromHeaderList } from '../ja4h.js';
import type { Http3Hooks } from './analyzer.js';

export const HTTP3_JA4H: Http3Hooks = {
  huffman: huffmanDecode,
  ja4h(fields) {
    const input = ja4hInputFromHeaderList(fields, '30');
    const r = input && ja4h(input);
    return r ? { value: r.ja4h, extra: { ja4h_r: r.raw } } : null;
  },
};
