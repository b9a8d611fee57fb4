/**
 * The HPACK Huffman code (RFC 7541 Appendix B). It is a canonical code, so the table is just the
 * code length of each of the 257 symbols (256 octets and EOS); the codes follow from the lengths.
 */

/** Code lengths of symbols 0..256, each stored as the character code 48 + length. */
const LENGTHS =
  '=GLLLLLLLHNLLNLLLLLLLLNLLLLLLLLL6::<=68;::8;8666555666666678?6<:=67777777777777777777777878=C=>6?' +
  '56565666577666567655677777?;>=LDFDDFFFGFGGGGGHGHHFGHGGGGEFGFGGHFEDFFGGEGFFHEFGGEEFEGFGGDFFFGFFGJ' +
  'JDCFGFIJJJKKJHICEJKKJKHEEJJLKKKDHDEFEEGFFIIHHJGJKJJKKKKKLKKKKKJN';

const EOS = 256;
const MAX_LEN = 30;

/** Canonical decoding tables: per length, the first code, the symbol count and where they start. */
const firstCode = new Int32Array(MAX_LEN + 2);
const countAt = new Int32Array(MAX_LEN + 2);
const offsetAt = new Int32Array(MAX_LEN + 2);
const symbols = new Uint16Array(257);
/** Encoder side (tests and tools): code and length per symbol. */
export const HUFFMAN_CODES = new Uint32Array(257);
export const HUFFMAN_LENGTHS = new Uint8Array(257);

(function build(): void {
  for (let s = 0; s < 257; s++) HUFFMAN_LENGTHS[s] = LENGTHS.charCodeAt(s) - 48;
  const order = Array.from({ length: 257 }, (_, s) => s).sort((a, b) => HUFFMAN_LENGTHS[a] - HUFFMAN_LENGTHS[b] || a - b);
  let code = 0;
  let prevLen = HUFFMAN_LENGTHS[order[0]];
  for (let i = 0; i < order.length; i++) {
    const s = order[i];
    const len = HUFFMAN_LENGTHS[s];
    if (i > 0) code = (code + 1) * 2 ** (len - prevLen);
    prevLen = len;
    HUFFMAN_CODES[s] = code;
    symbols[i] = s;
    if (countAt[len] === 0) {
      firstCode[len] = code;
      offsetAt[len] = i;
    }
    countAt[len]++;
  }
})();

export class HuffmanError extends Error {}

/** Decodes a Huffman-coded HPACK string into its octets. Throws HuffmanError on a bad code or padding. */
export function huffmanDecode(buf: Buffer, off: number, len: number): Buffer {
  // Each symbol is at least 5 bits, so the output is at most 8/5 of the input.
  const out = Buffer.allocUnsafe(Math.ceil((len * 8) / 5));
  let n = 0;
  let code = 0;
  let codeLen = 0;
  const end = off + len;
  for (let i = off; i < end; i++) {
    const byte = buf[i];
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      codeLen++;
      if (codeLen > MAX_LEN) throw new HuffmanError('invalid Huffman code');
      const idx = code - firstCode[codeLen];
      if (countAt[codeLen] > 0 && idx >= 0 && idx < countAt[codeLen]) {
        const sym = symbols[offsetAt[codeLen] + idx];
        if (sym === EOS) throw new HuffmanError('EOS in Huffman string');
        out[n++] = sym;
        code = 0;
        codeLen = 0;
      }
    }
  }
  // Padding: fewer than 8 bits, all ones (a prefix of EOS).
  if (codeLen > 7 || code !== 2 ** codeLen - 1) throw new HuffmanError('invalid Huffman padding');
  return out.subarray(0, n);
}

/** Huffman-encodes octets (used by tests to build header blocks). */
export function huffmanEncode(data: Buffer): Buffer {
  let bits = 0;
  for (const b of data) bits += HUFFMAN_LENGTHS[b];
  const out = Buffer.alloc(Math.ceil(bits / 8), 0xff);
  let pos = 0;
  for (const b of data) {
    const c = HUFFMAN_CODES[b];
    const l = HUFFMAN_LENGTHS[b];
    for (let i = l - 1; i >= 0; i--) {
      const bit = Math.floor(c / 2 ** i) & 1;
      const byteIdx = pos >> 3;
      const mask = 0x80 >> (pos & 7);
      if (bit) out[byteIdx] |= mask;
      else out[byteIdx] &= ~mask;
      pos++;
    }
  }
  return out;
}
