#!/usr/bin/env node
// Repeats a classic pcap COPIES times, shifting every TCP/UDP port ≥ 1024 per copy so each copy is
// a fresh set of connections (the JS twin of ../shared/bench/mkbench.py, for clones without shared/).
// Usage: repeat-capture.mjs IN.pcap OUT.pcap COPIES   (Ethernet/IPv4 frames; others copied as they are)
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output, copiesArg] = process.argv.slice(2);
const copies = Number(copiesArg ?? 100);
const src = readFileSync(input);
if (src.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${input}: expected a little-endian microsecond pcap`);
const records = [];
for (let off = 24; off + 16 <= src.length;) {
  const len = src.readUInt32LE(off + 8);
  records.push(src.subarray(off, off + 16 + len));
  off += 16 + len;
}
const parts = [src.subarray(0, 24)];
for (let c = 0; c < copies; c++) {
  for (const rec of records) {
    const out = Buffer.from(rec);
    const ip = 16 + 14;
    if (out.length > ip + 20 && out.readUInt16BE(16 + 12) === 0x0800) {
      const ihl = (out[ip] & 0x0f) * 4;
      const proto = out[ip + 9];
      if (proto === 6 || proto === 17) {
        for (const p of [ip + ihl, ip + ihl + 2]) {
          const port = out.readUInt16BE(p);
          if (port >= 1024) out.writeUInt16BE(1024 + ((port - 1024 + c * 7) % 64512), p);
        }
      }
    }
    parts.push(out);
  }
}
writeFileSync(output, Buffer.concat(parts));
console.log(`${output}: ${records.length * copies} packets`);
