/**
 * A small strict DER reader: single-byte tags, definite minimal lengths, every element inside its
 * parent. Anything else is rejected (null), so a hostile certificate cannot make it read out of
 * bounds or loop. It reads views into the caller's buffer and allocates nothing.
 */
export interface Tlv {
  tag: number;
  /** Content start and end offsets. */
  start: number;
  end: number;
}

/** Reads the element at buf[p] that must end by `end`; writes into `out` and returns true, or false if malformed. */
export function readTlv(buf: Buffer, p: number, end: number, out: Tlv): boolean {
  if (p + 2 > end) return false;
  const tag = buf[p];
  if ((tag & 0x1f) === 0x1f) return false; // multi-byte tags do not occur in certificates
  let len = buf[p + 1];
  let q = p + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || q + n > end) return false; // indefinite or absurd lengths
    if (buf[q] === 0) return false; // not minimal
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[q + i];
    if (len < 0x80) return false; // long form where the short one fits
    q += n;
  }
  if (q + len > end) return false;
  out.tag = tag;
  out.start = q;
  out.end = q + len;
  return true;
}

export const TAG_BOOLEAN = 0x01;
export const TAG_INTEGER = 0x02;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_OID = 0x06;
export const TAG_SEQUENCE = 0x30;
export const TAG_SET = 0x31;

/** Decodes a DirectoryString-like value; null for a type that is not a string. */
export function derString(buf: Buffer, t: Tlv): string | null {
  switch (t.tag) {
    case 0x0c: return buf.toString('utf8', t.start, t.end); // UTF8String
    case 0x12: case 0x13: case 0x16: case 0x1a: // Numeric, Printable, IA5, Visible
      return buf.toString('latin1', t.start, t.end);
    case 0x14: return buf.toString('latin1', t.start, t.end); // TeletexString, as Latin-1
    case 0x1e: { // BMPString: UCS-2 big endian
      if ((t.end - t.start) % 2) return null;
      let s = '';
      for (let i = t.start; i < t.end; i += 2) s += String.fromCharCode(buf.readUInt16BE(i));
      return s;
    }
    case 0x1c: { // UniversalString: UCS-4 big endian
      if ((t.end - t.start) % 4) return null;
      let s = '';
      for (let i = t.start; i < t.end; i += 4) {
        const cp = buf.readUInt32BE(i);
        if (cp > 0x10ffff) return null;
        s += String.fromCodePoint(cp);
      }
      return s;
    }
    default: return null;
  }
}
