/**
 * Bounds-checked reads over one dissection buffer. A read past the end throws OutOfBounds, which
 * aborts the rest of the frame exactly where Wireshark's SSH dissector would throw and stop.
 */
export class OutOfBounds extends Error {
  constructor() {
    super('read past the end of the SSH data');
  }
}

export function u8(buf: Buffer, off: number): number {
  if (off < 0 || off >= buf.length) throw new OutOfBounds();
  return buf[off];
}

export function u32(buf: Buffer, off: number): number {
  if (off < 0 || off + 4 > buf.length) throw new OutOfBounds();
  return buf.readUInt32BE(off);
}

/** Checks that [off, off + len) lies in the buffer. */
export function need(buf: Buffer, off: number, len: number): void {
  if (off < 0 || len < 0 || off + len > buf.length) throw new OutOfBounds();
}
