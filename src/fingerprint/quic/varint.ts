/** QUIC variable-length integers (RFC 9000 §16). Reads set `varintLen`; -1 means out of bounds. */
export let varintLen = 0;

/** Reads a varint at buf[p] (not past end). Values above 2^53 lose precision, which no length here reaches. */
export function readVarint(buf: Buffer, p: number, end: number): number {
  if (p >= end) { varintLen = -1; return 0; }
  const first = buf[p];
  const n = 1 << (first >> 6);
  if (p + n > end) { varintLen = -1; return 0; }
  varintLen = n;
  let v = first & 0x3f;
  for (let i = 1; i < n; i++) v = v * 256 + buf[p + i];
  return v;
}
