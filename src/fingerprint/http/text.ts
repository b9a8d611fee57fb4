/** Header octets to text as Wireshark shows them: ASCII, other octets as U+FFFD. */
export function asciiString(buf: Buffer, start: number, end: number): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (buf[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return buf.toString('latin1', start, end);
  let out = '';
  for (let i = start; i < end; i++) out += buf[i] < 0x80 ? String.fromCharCode(buf[i]) : '\ufffd';
  return out;
}
