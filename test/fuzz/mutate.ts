/**
 * Deterministic mutation of real captures for the fuzz campaign. Everything here is a pure function
 * of (seed, round or input index) and the corpus, so any failing input can be regenerated from its
 * numbers alone, by the worker that ran it or by the test that saves it as a regression fixture.
 *
 * Frame level (a "round"): one capture's frames fed in order to a fresh engine, a fraction of them
 * mutated: bit flips, byte overwrites, truncation, garbage appended, length fields (IP, UDP, TCP data
 * offset, TLS record/handshake/hello/extension/certificate, SSH, QUIC, DHCP) set to 0, all-ones or
 * off by one, duplicates (also retransmissions with different content), reordering, drops, TCP
 * segments split in two (in order, reversed, overlapping), frames spliced in from other captures,
 * timestamp jumps and link-type swaps. Each mutated frame is one input.
 *
 * File level: a whole capture file damaged (bit flips anywhere or in record headers, record length
 * fields set to 0/0xFFFF/0xFFFFFFFF, truncation, duplicated/swapped records, a damaged global header,
 * inserted garbage) and pushed through the reader in random chunk sizes. Each file is one input.
 */
import { Decoder } from '../../src/capture/decode.js';
import { Packet } from '../../src/capture/packet.js';

export interface CapFrame {
  linkType: number;
  data: Buffer;
  tsUs: number;
}

export interface Capture {
  name: string;
  bytes: Buffer;
  frames: CapFrame[];
  secrets: [number, Buffer][];
}

/** A frame as fed to the engine; `op` names the mutation (null: fed unchanged). */
export interface Fed extends CapFrame {
  op: string | null;
}

export interface Round {
  capture: Capture;
  fed: Fed[];
  mutated: number;
}

export interface FileInput {
  capture: Capture;
  bytes: Buffer;
  ops: string[];
  chunkSizes: number[];
}

/** mulberry32: small, fast, good enough for choosing mutations. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Independent seed for item `index` of stream `stream` under the campaign seed. */
export function mix(seed: number, stream: number, index: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(stream + 1, 0xc2b2ae35) ^ Math.imul(index + 1, 0x27d4eb2f);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

const int = (rand: () => number, n: number): number => Math.floor(rand() * n);
const pick = <T>(rand: () => number, xs: readonly T[]): T => xs[int(rand, xs.length)];

// ------------------------------------------------------------------ length fields in a frame

/** A length-like field: `size` bytes big-endian, a QUIC varint, or the TCP data-offset nibble. */
interface Field {
  off: number;
  size: number;
  kind: 'u' | 'varint' | 'nibble';
}

/** Finds length fields by decoding the frame (innermost IP/transport) and walking known payloads. */
export function lengthFields(decoder: Decoder, pkt: Packet, f: CapFrame): Field[] {
  const out: Field[] = [];
  let ok = false;
  try {
    pkt.tsUs = f.tsUs;
    ok = decoder.decode(f.linkType, f.data, pkt);
  } catch {
    return out;
  }
  // Only when the packet is a view of this frame (not a reassembled datagram).
  if (!ok || pkt.data !== f.data) return out;
  const b = f.data;
  if (pkt.ipVersion === 4) out.push({ off: pkt.ipOff + 2, size: 2, kind: 'u' });
  if (pkt.ipVersion === 6) out.push({ off: pkt.ipOff + 4, size: 2, kind: 'u' });
  const p = pkt.payloadOff;
  const end = p + pkt.payloadLen;
  if (pkt.proto === 6) {
    out.push({ off: pkt.l4Off + 12, size: 1, kind: 'nibble' });
    if (end - p >= 5 && b[p] >= 20 && b[p] <= 24 && b[p + 1] === 3) tlsFields(b, p, end, out);
    else if (end - p >= 6 && b.toString('latin1', p, p + 4) !== 'SSH-') {
      // An SSH binary packet: 4-byte packet length, 1-byte padding length.
      out.push({ off: p, size: 4, kind: 'u' }, { off: p + 4, size: 1, kind: 'u' });
    }
  } else if (pkt.proto === 17) {
    out.push({ off: pkt.l4Off + 4, size: 2, kind: 'u' });
    if (end - p >= 7 && (b[p] & 0x80) !== 0) quicFields(b, p, end, out);
    else if ((pkt.srcPort === 67 || pkt.srcPort === 68 || pkt.dstPort === 67 || pkt.dstPort === 68) && end - p >= 240) dhcpFields(b, p + 240, end, out);
    else if ((pkt.srcPort === 546 || pkt.srcPort === 547 || pkt.dstPort === 546 || pkt.dstPort === 547) && end - p >= 4) dhcp6Fields(b, p + 4, end, out);
  }
  return out;
}

function tlsFields(b: Buffer, p: number, end: number, out: Field[]): void {
  for (let guard = 0; end - p >= 5 && guard < 64; guard++) {
    if (b[p] < 20 || b[p] > 24 || b[p + 1] !== 3) return;
    const len = b.readUInt16BE(p + 3);
    out.push({ off: p + 3, size: 2, kind: 'u' });
    if (b[p] === 22) handshakeFields(b, p + 5, Math.min(end, p + 5 + len), out);
    p += 5 + len;
  }
}

function handshakeFields(b: Buffer, p: number, end: number, out: Field[]): void {
  for (let guard = 0; end - p >= 4 && guard < 32; guard++) {
    const type = b[p];
    const len = b.readUIntBE(p + 1, 3);
    out.push({ off: p + 1, size: 3, kind: 'u' });
    const bodyEnd = Math.min(end, p + 4 + len);
    if (type === 1 || type === 2) helloFields(b, p + 4, bodyEnd, type === 1, out);
    else if (type === 11) certificateFields(b, p + 4, bodyEnd, out);
    p += 4 + len;
  }
}

function helloFields(b: Buffer, p: number, end: number, client: boolean, out: Field[]): void {
  p += 34;
  if (end - p < 1) return;
  out.push({ off: p, size: 1, kind: 'u' });
  p += 1 + b[p];
  if (client) {
    if (end - p < 2) return;
    out.push({ off: p, size: 2, kind: 'u' });
    p += 2 + b.readUInt16BE(p);
    if (end - p < 1) return;
    out.push({ off: p, size: 1, kind: 'u' });
    p += 1 + b[p];
  } else {
    p += 3;
  }
  if (end - p < 2) return;
  out.push({ off: p, size: 2, kind: 'u' });
  p += 2;
  for (let guard = 0; end - p >= 4 && guard < 64; guard++) {
    const len = b.readUInt16BE(p + 2);
    out.push({ off: p + 2, size: 2, kind: 'u' });
    // Most extensions open with a list length of 2 bytes, a few (supported_versions, psk modes) of 1.
    if (len >= 2 && end - p >= 6) out.push({ off: p + 4, size: 2, kind: 'u' });
    if (len >= 1 && end - p >= 5) out.push({ off: p + 4, size: 1, kind: 'u' });
    p += 4 + len;
  }
}

function certificateFields(b: Buffer, p: number, end: number, out: Field[]): void {
  if (end - p < 3) return;
  out.push({ off: p, size: 3, kind: 'u' });
  p += 3;
  for (let guard = 0; end - p >= 3 && guard < 16; guard++) {
    out.push({ off: p, size: 3, kind: 'u' });
    p += 3 + b.readUIntBE(p, 3);
  }
}

function varintLen(first: number): number {
  return 1 << (first >> 6);
}

function quicFields(b: Buffer, p: number, end: number, out: Field[]): void {
  const first = b[p];
  let q = p + 5;
  out.push({ off: q, size: 1, kind: 'u' }); // DCID length
  q += 1 + b[q];
  if (end - q < 1) return;
  out.push({ off: q, size: 1, kind: 'u' }); // SCID length
  q += 1 + b[q];
  if (end - q < 1) return;
  if (((first >> 4) & 3) === 0) {
    const n = varintLen(b[q]); // Initial: token length
    if (end - q < n) return;
    out.push({ off: q, size: n, kind: 'varint' });
    let tokenLen = b[q] & 0x3f;
    for (let i = 1; i < n; i++) tokenLen = tokenLen * 256 + b[q + i];
    q += n + tokenLen;
    if (end - q < 1) return;
  }
  const n = varintLen(b[q]); // Length
  if (end - q >= n) out.push({ off: q, size: n, kind: 'varint' });
}

function dhcpFields(b: Buffer, p: number, end: number, out: Field[]): void {
  for (let guard = 0; end - p >= 2 && guard < 64; guard++) {
    if (b[p] === 255) return;
    if (b[p] === 0) { p++; continue; }
    out.push({ off: p + 1, size: 1, kind: 'u' });
    p += 2 + b[p + 1];
  }
}

function dhcp6Fields(b: Buffer, p: number, end: number, out: Field[]): void {
  for (let guard = 0; end - p >= 4 && guard < 64; guard++) {
    out.push({ off: p + 2, size: 2, kind: 'u' });
    p += 4 + b.readUInt16BE(p + 2);
  }
}

/** Sets a field to 0, all ones, 0xFFFF, or one more / one less than it was. */
function setField(rand: () => number, b: Buffer, f: Field): string {
  const r = rand();
  if (f.kind === 'nibble') {
    const v = r < 0.4 ? 0 : r < 0.8 ? 0xf0 : ((b[f.off] + 0x10) & 0xf0);
    b[f.off] = (b[f.off] & 0x0f) | v;
    return `tcp-data-offset=${v >> 4}`;
  }
  if (f.kind === 'varint') {
    const prefix = b[f.off] & 0xc0;
    const ones = r >= 0.5;
    b.fill(ones ? 0xff : 0, f.off, f.off + f.size);
    b[f.off] = prefix | (ones ? 0x3f : 0);
    return `varint${f.size}=${ones ? 'max' : 0}`;
  }
  const max = f.size === 4 ? 0xffffffff : 2 ** (8 * f.size) - 1;
  const old = b.readUIntBE(f.off, f.size);
  let v: number;
  if (r < 0.35) v = 0;
  else if (r < 0.55) v = max;
  else if (r < 0.7) v = Math.min(max, 0xffff);
  else if (r < 0.85) v = Math.min(max, old + 1);
  else v = Math.max(0, old - 1);
  b.writeUIntBE(v, f.off, f.size);
  return `len${f.size}@${f.off}=${v}`;
}

// ------------------------------------------------------------------ frame mutations

const FRAME_OPS = [
  'bitflip', 'bitflip', 'bitflip', 'overwrite', 'truncate', 'append', 'length', 'length', 'length', 'length',
  'duplicate', 'retransmit-different', 'reorder', 'reorder', 'drop', 'split', 'split', 'splice', 'time-jump', 'link-swap',
  'ip-fragment', 'ip-fragment',
] as const;
const LINK_TYPES = [0, 1, 101, 108, 113, 228, 229, 276, 12, 14, 147];

function bitflip(rand: () => number, data: Buffer): Buffer {
  const out = Buffer.from(data);
  if (out.length === 0) return out;
  const n = 1 + int(rand, 8);
  // Headers are where damage matters most: half the flips land in the first 128 bytes.
  const span = rand() < 0.5 ? Math.min(out.length, 128) : out.length;
  for (let i = 0; i < n; i++) out[int(rand, span)] ^= 1 << int(rand, 8);
  return out;
}

function overwrite(rand: () => number, data: Buffer): Buffer {
  const out = Buffer.from(data);
  if (out.length === 0) return out;
  const at = int(rand, out.length);
  const n = 1 + int(rand, 4);
  const v = pick(rand, [0x00, 0xff, 0x80, 0x7f, -1]);
  for (let i = at; i < Math.min(out.length, at + n); i++) out[i] = v < 0 ? int(rand, 256) : v;
  return out;
}

interface TcpView {
  pkt: Packet;
  payloadOff: number;
  payloadLen: number;
}

function tcpView(decoder: Decoder, pkt: Packet, f: CapFrame): TcpView | null {
  let ok = false;
  try {
    pkt.tsUs = f.tsUs;
    ok = decoder.decode(f.linkType, f.data, pkt);
  } catch {
    return null;
  }
  if (!ok || pkt.data !== f.data || pkt.proto !== 6 || pkt.payloadLen < 2) return null;
  return { pkt, payloadOff: pkt.payloadOff, payloadLen: pkt.payloadLen };
}

/** A copy of the frame carrying payload bytes [from, to) of its TCP segment, lengths and sequence fixed. */
function tcpPart(f: CapFrame, v: TcpView, from: number, to: number, alter: (() => number) | null): Buffer {
  const head = f.data.subarray(0, v.payloadOff);
  const part = Buffer.from(f.data.subarray(v.payloadOff + from, v.payloadOff + to));
  if (alter) for (let i = 0; i < part.length; i++) part[i] = int(alter, 256);
  const out = Buffer.concat([head, part]);
  const { pkt } = v;
  if (pkt.ipVersion === 4) out.writeUInt16BE(Math.min(0xffff, out.length - pkt.ipOff), pkt.ipOff + 2);
  else out.writeUInt16BE(Math.min(0xffff, out.length - pkt.ipOff - 40), pkt.ipOff + 4);
  out.writeUInt32BE((pkt.seq + from) >>> 0, pkt.l4Off + 4);
  return out;
}

/**
 * The frame's innermost IPv4 packet cut into fragments (each behind the frame's own link and outer
 * headers), then delivered in order, reversed, shuffled, with a duplicate, with an overlapping
 * fragment carrying other bytes, or with one missing. Null when the frame has no IPv4 packet of its own.
 */
function ipFragments(rand: () => number, decoder: Decoder, pkt: Packet, f: CapFrame): { frames: Buffer[]; how: string } | null {
  let ok = false;
  try {
    pkt.tsUs = f.tsUs;
    ok = decoder.decode(f.linkType, f.data, pkt);
  } catch {
    return null;
  }
  if (!ok || pkt.data !== f.data || pkt.ipVersion !== 4) return null;
  const b = f.data;
  const ip = pkt.ipOff;
  const hl = (b[ip] & 0x0f) * 4;
  const ipEnd = Math.min(b.length, ip + b.readUInt16BE(ip + 2));
  const body = b.subarray(ip + hl, ipEnd);
  if (body.length < 16 || (b.readUInt16BE(ip + 6) & 0x3fff) !== 0) return null;
  // 2 to 8 fragments (payload sizes a multiple of 8, the last one whatever is left).
  const size = 8 * Math.ceil(body.length / (2 + int(rand, 7)) / 8);
  const piece = (from: number, to: number, more: boolean, alter: boolean): Buffer => {
    const out = Buffer.concat([b.subarray(0, ip + hl), body.subarray(from, to)]);
    out.writeUInt16BE(hl + (to - from), ip + 2);
    out.writeUInt16BE((b.readUInt16BE(ip + 6) & 0x4000) | (more ? 0x2000 : 0) | (from / 8), ip + 6);
    if (alter) for (let i = ip + hl; i < out.length; i++) out[i] ^= 0xa5;
    return out;
  };
  const frames: Buffer[] = [];
  for (let from = 0; from < body.length; from += size) frames.push(piece(from, Math.min(body.length, from + size), from + size < body.length, false));
  const how = pick(rand, ['in-order', 'reversed', 'shuffled', 'duplicate', 'overlap', 'missing'] as const);
  if (how === 'reversed') frames.reverse();
  else if (how === 'shuffled') for (let i = frames.length - 1; i > 0; i--) { const j = int(rand, i + 1); [frames[i], frames[j]] = [frames[j], frames[i]]; }
  else if (how === 'duplicate') frames.splice(int(rand, frames.length + 1), 0, frames[int(rand, frames.length)]);
  else if (how === 'overlap') frames.splice(int(rand, frames.length + 1), 0, piece(8 * int(rand, Math.max(1, body.length / 8)), body.length, false, true));
  else if (how === 'missing' && frames.length > 1) frames.splice(int(rand, frames.length), 1);
  return { frames, how: `${frames.length}x${size}-${how}` };
}

/** The frames of one round: capture `round`'s choice, a mutation rate, and the mutations, all from the seed. */
export function generateRound(captures: readonly Capture[], seed: number, round: number, maxFrames = 600): Round {
  const rand = rng(mix(seed, 1, round));
  const capture = captures[int(rand, captures.length)];
  const rate = pick(rand, [0.02, 0.05, 0.15, 0.3, 0.6, 1]);
  const n = capture.frames.length;
  const start = n > maxFrames && rand() < 0.5 ? int(rand, n - maxFrames) : 0;
  const end = Math.min(n, start + maxFrames);
  const decoder = new Decoder();
  const pkt = new Packet();
  const fed: Fed[] = [];
  let mutated = 0;
  let shift = 0;
  /** `counts`: whether this frame is a new input (the pieces of one fragmentation are one input). */
  const push = (f: CapFrame, data: Buffer, op: string | null, linkType = f.linkType, counts = true) => {
    fed.push({ linkType, data, tsUs: Math.max(0, f.tsUs + shift), op });
    if (op !== null && counts) mutated++;
  };
  for (let i = start; i < end; i++) {
    const f = capture.frames[i];
    if (rand() >= rate) {
      push(f, f.data, null);
      continue;
    }
    const op = pick(rand, FRAME_OPS);
    switch (op) {
      case 'bitflip':
        push(f, bitflip(rand, f.data), op);
        break;
      case 'overwrite':
        push(f, overwrite(rand, f.data), op);
        break;
      case 'truncate':
        push(f, Buffer.from(f.data.subarray(0, int(rand, f.data.length + 1))), op);
        break;
      case 'append': {
        const extra = Buffer.alloc(1 + int(rand, 64));
        for (let k = 0; k < extra.length; k++) extra[k] = int(rand, 256);
        push(f, Buffer.concat([f.data, extra]), op);
        break;
      }
      case 'length': {
        const fields = lengthFields(decoder, pkt, f);
        if (fields.length === 0) { push(f, bitflip(rand, f.data), 'bitflip'); break; }
        const out = Buffer.from(f.data);
        const what = setField(rand, out, pick(rand, fields));
        push(f, out, `length:${what}`);
        break;
      }
      case 'duplicate':
        push(f, f.data, null);
        push(f, f.data, op);
        break;
      case 'retransmit-different': {
        const v = tcpView(decoder, pkt, f);
        if (v === null) { push(f, f.data, null); push(f, f.data, 'duplicate'); break; }
        push(f, f.data, null);
        push(f, tcpPart(f, v, 0, v.payloadLen, rand), op);
        break;
      }
      case 'reorder':
        if (i + 1 < end) {
          push(capture.frames[i + 1], capture.frames[i + 1].data, null);
          push(f, f.data, op);
          i++;
        } else {
          push(f, f.data, null);
        }
        break;
      case 'drop':
        mutated++;
        break;
      case 'split': {
        const v = tcpView(decoder, pkt, f);
        if (v === null) { push(f, bitflip(rand, f.data), 'bitflip'); break; }
        const k = 1 + int(rand, v.payloadLen - 1);
        // Optionally overlap the second part back into the first, with different bytes there.
        const overlap = rand() < 0.3 ? int(rand, k + 1) : 0;
        const a = tcpPart(f, v, 0, k, null);
        const b = tcpPart(f, v, k - overlap, v.payloadLen, null);
        for (let j = 0; j < overlap; j++) b[v.payloadOff + j] ^= 0x5a;
        const reversed = rand() < 0.5;
        const name = `split@${k}${overlap ? `-overlap${overlap}` : ''}${reversed ? '-reversed' : ''}`;
        if (reversed) { push(f, b, name); push(f, a, name); } else { push(f, a, name); push(f, b, name); }
        break;
      }
      case 'splice': {
        const other = captures[int(rand, captures.length)];
        if (other.frames.length === 0) { push(f, f.data, null); break; }
        const g = other.frames[int(rand, other.frames.length)];
        push(f, f.data, null);
        push(f, g.data, `splice:${other.name}`, g.linkType);
        break;
      }
      case 'time-jump': {
        // Forward past every timeout, or backwards.
        shift += rand() < 0.6 ? 1e6 * (1 + int(rand, 4000)) : -1e6 * (1 + int(rand, 100));
        push(f, f.data, `${op}:${shift}`);
        break;
      }
      case 'link-swap':
        push(f, f.data, op, pick(rand, LINK_TYPES));
        break;
      case 'ip-fragment': {
        const frags = ipFragments(rand, decoder, pkt, f);
        if (frags === null) { push(f, bitflip(rand, f.data), 'bitflip'); break; }
        frags.frames.forEach((g, k) => push(f, g, `ip-fragment:${frags.how}`, f.linkType, k === 0));
        break;
      }
    }
  }
  return { capture, fed, mutated };
}

// ------------------------------------------------------------------ file mutations

interface Layout {
  littleEndian: boolean;
  pcapng: boolean;
  /** Offsets of record headers (pcap) or block starts (pcapng), in order. */
  records: number[];
}

/** Walks the intact structure of a capture file (pcap records or pcapng blocks). */
export function layout(bytes: Buffer): Layout {
  const records: number[] = [];
  if (bytes.length < 24) return { littleEndian: true, pcapng: false, records };
  const magic = bytes.readUInt32LE(0);
  if (magic === 0x0a0d0d0a) {
    let le = true;
    for (let off = 0; bytes.length - off >= 12;) {
      if (bytes.readUInt32LE(off) === 0x0a0d0d0a) le = bytes.readUInt32LE(off + 8) === 0x1a2b3c4d;
      const len = le ? bytes.readUInt32LE(off + 4) : bytes.readUInt32BE(off + 4);
      if (len < 12 || len % 4 !== 0 || off + len > bytes.length) break;
      records.push(off);
      off += len;
    }
    return { littleEndian: le, pcapng: true, records };
  }
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  for (let off = 24; bytes.length - off >= 16;) {
    const incl = le ? bytes.readUInt32LE(off + 8) : bytes.readUInt32BE(off + 8);
    if (off + 16 + incl > bytes.length) break;
    records.push(off);
    off += 16 + incl;
  }
  return { littleEndian: le, pcapng: false, records };
}

const FILE_OPS = ['flip', 'flip', 'header-flip', 'length', 'length', 'truncate', 'duplicate', 'swap', 'global', 'garbage'] as const;

export function generateFileInput(captures: readonly Capture[], seed: number, index: number): FileInput {
  const rand = rng(mix(seed, 2, index));
  const capture = captures[int(rand, captures.length)];
  let bytes = Buffer.from(capture.bytes);
  // Large files are cut first (a truncation of its own): whole-file inputs stay cheap.
  if (bytes.length > 131072) bytes = Buffer.from(bytes.subarray(0, 32768 + int(rand, 98304)));
  const ops: string[] = [];
  const count = 1 + int(rand, 3);
  for (let m = 0; m < count; m++) {
    const lay = layout(bytes);
    const recs = lay.records;
    const op = pick(rand, FILE_OPS);
    const w32 = (off: number, v: number) => {
      if (off + 4 > bytes.length) return;
      if (lay.littleEndian) bytes.writeUInt32LE(v >>> 0, off); else bytes.writeUInt32BE(v >>> 0, off);
    };
    const recLen = (i: number) => (i + 1 < recs.length ? recs[i + 1] : bytes.length) - recs[i];
    switch (op) {
      case 'flip':
        if (bytes.length > 0) for (let k = 1 + int(rand, 6); k > 0; k--) bytes[int(rand, bytes.length)] ^= 1 << int(rand, 8);
        break;
      case 'header-flip': {
        if (recs.length === 0) break;
        const at = pick(rand, recs) + int(rand, lay.pcapng ? 28 : 16);
        if (at < bytes.length) bytes[at] ^= 1 << int(rand, 8);
        break;
      }
      case 'length': {
        if (recs.length === 0) break;
        const i = int(rand, recs.length);
        const v = pick(rand, [0, 0xffff, 0xffffffff, 1, recLen(i) + 1, recLen(i) - 1, 12, 16]);
        const fieldOff = lay.pcapng
          ? pick(rand, [4, recLen(i) - 4, 20, 24])
          : pick(rand, [8, 12]);
        w32(recs[i] + fieldOff, v);
        ops.push(`length@${recs[i] + fieldOff}=${v}`);
        continue;
      }
      case 'truncate': {
        const at = recs.length > 0 && rand() < 0.5 ? pick(rand, recs) + int(rand, 40) - 20 : int(rand, bytes.length + 1);
        bytes = Buffer.from(bytes.subarray(0, Math.max(0, Math.min(bytes.length, at))));
        ops.push(`truncate@${bytes.length}`);
        continue;
      }
      case 'duplicate': {
        if (recs.length === 0) break;
        const i = int(rand, recs.length);
        const rec = bytes.subarray(recs[i], recs[i] + recLen(i));
        bytes = Buffer.concat([bytes.subarray(0, recs[i] + recLen(i)), rec, bytes.subarray(recs[i] + recLen(i))]);
        break;
      }
      case 'swap': {
        if (recs.length < 2) break;
        const i = int(rand, recs.length - 1);
        const a = bytes.subarray(recs[i], recs[i + 1]);
        const b = bytes.subarray(recs[i + 1], recs[i + 1] + recLen(i + 1));
        bytes = Buffer.concat([bytes.subarray(0, recs[i]), b, a, bytes.subarray(recs[i + 1] + recLen(i + 1))]);
        break;
      }
      case 'global': {
        // Version, snap length, link type (pcap) or the section header's fields (pcapng).
        const at = pick(rand, lay.pcapng ? [8, 12, 16, 20] : [4, 16, 20, 22]);
        if (at < bytes.length) bytes[at] ^= 1 << int(rand, 8);
        break;
      }
      case 'garbage': {
        const at = recs.length > 0 ? pick(rand, recs) : int(rand, bytes.length + 1);
        const junk = Buffer.alloc(1 + int(rand, 64));
        for (let k = 0; k < junk.length; k++) junk[k] = int(rand, 256);
        bytes = Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)]);
        break;
      }
    }
    ops.push(op);
  }
  // Chunk sizes log-uniform from 1 byte to 64 KiB, as a pipe might deliver them.
  const chunkSizes: number[] = [];
  for (let total = 0; total < bytes.length;) {
    const size = Math.max(1, Math.floor(2 ** (rand() * 16)));
    chunkSizes.push(size);
    total += size;
  }
  return { capture, bytes, ops, chunkSizes };
}
