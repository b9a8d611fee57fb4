/** Builders for hand-made HTTP/2 frames and HPACK literals used by the tests. */
import { huffmanEncode } from '../../../src/fingerprint/http/huffman.js';

export function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}

/** A literal with incremental indexing and a new, Huffman-coded name and value. */
export function literal(name: string, value: string): Buffer {
  const n = huffmanEncode(Buffer.from(name));
  const v = huffmanEncode(Buffer.from(value));
  if (n.length > 126 || v.length > 126) throw new Error('test strings must be short');
  return Buffer.concat([Buffer.of(0x40, 0x80 | n.length), n, Buffer.of(0x80 | v.length), v]);
}
