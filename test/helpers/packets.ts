/**
 * Hand-built packets and captures for tests: link headers (Ethernet with VLAN tags, Linux SLL/SLL2,
 * BSD null/loop), IPv4/IPv6 (with extension headers and fragments), TCP/UDP, tunnels (GRE, ERSPAN
 * I/II/III, VXLAN, Geneve) and pcap/pcapng writers in either byte order. Every builder returns a
 * fresh Buffer holding its header followed by `payload`, so layers nest by composition:
 *
 *   eth({ etherType: ETH_IPV4 }, ipv4({ src, dst, proto: 6 }, tcp({ sport, dport }, data)))
 */

export const ETH_IPV4 = 0x0800;
export const ETH_IPV6 = 0x86dd;
export const ETH_VLAN = 0x8100;
export const ETH_QINQ = 0x88a8;
export const ETH_MPLS = 0x8847;
export const ETH_TEB = 0x6558;
export const ETH_ERSPAN_2 = 0x88be;
export const ETH_ERSPAN_3 = 0x22eb;
export const ETH_ARP = 0x0806;

export const IP_TCP = 6;
export const IP_UDP = 17;
export const IP_GRE = 47;
export const IP_IPIP = 4;
export const IP_IPV6 = 41;
export const IP_ICMP = 1;

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

export const LINK_NULL = 0;
export const LINK_ETHERNET = 1;
export const LINK_RAW = 101;
export const LINK_LOOP = 108;
export const LINK_SLL = 113;
export const LINK_IPV4 = 228;
export const LINK_IPV6 = 229;
export const LINK_SLL2 = 276;

// ---------------------------------------------------------------- addresses

export function ip4(text: string): Buffer {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4) throw new Error(`bad IPv4 address ${text}`);
  return Buffer.from(parts);
}

/** Parses an IPv6 address (with at most one `::`, no embedded IPv4) into 16 bytes. */
export function ip6(text: string): Buffer {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Error(`bad IPv6 address ${text}`);
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function addr(a: string | Buffer): Buffer {
  if (Buffer.isBuffer(a)) return a;
  return a.includes(':') ? ip6(a) : ip4(a);
}

// ---------------------------------------------------------------- link layers

export interface VlanTag { tpid?: number; vid: number; pcp?: number }

export interface EthOptions {
  dst?: Buffer;
  src?: Buffer;
  /** Outermost first; a number is an 802.1Q tag with that VLAN id. */
  vlans?: (number | VlanTag)[];
  etherType: number;
}

export function eth(opts: EthOptions, payload: Buffer): Buffer {
  const tags = (opts.vlans ?? []).map((v) => (typeof v === 'number' ? { vid: v } : v));
  const out = Buffer.alloc(14 + tags.length * 4);
  (opts.dst ?? Buffer.from([0x02, 0, 0, 0, 0, 0x02])).copy(out, 0);
  (opts.src ?? Buffer.from([0x02, 0, 0, 0, 0, 0x01])).copy(out, 6);
  let off = 12;
  for (const tag of tags) {
    out.writeUInt16BE(tag.tpid ?? ETH_VLAN, off);
    out.writeUInt16BE(((tag.pcp ?? 0) << 13) | (tag.vid & 0x0fff), off + 2);
    off += 4;
  }
  out.writeUInt16BE(opts.etherType, off);
  return Buffer.concat([out, payload]);
}

/** Linux cooked capture v1 (16-byte header, protocol at offset 14). */
export function sll(protocol: number, payload: Buffer, packetType = 0): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16BE(packetType, 0);
  h.writeUInt16BE(1, 2); // ARPHRD_ETHER
  h.writeUInt16BE(6, 4);
  Buffer.from([0x02, 0, 0, 0, 0, 0x01]).copy(h, 6);
  h.writeUInt16BE(protocol, 14);
  return Buffer.concat([h, payload]);
}

/** Linux cooked capture v2 (20-byte header, protocol at offset 0). */
export function sll2(protocol: number, payload: Buffer, ifIndex = 2): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(protocol, 0);
  h.writeUInt32BE(ifIndex, 4);
  h.writeUInt16BE(1, 8); // ARPHRD_ETHER
  h[10] = 0; // PACKET_HOST
  h[11] = 6;
  Buffer.from([0x02, 0, 0, 0, 0, 0x01]).copy(h, 12);
  return Buffer.concat([h, payload]);
}

/** BSD loopback: a 4-byte address family, host order for DLT_NULL (`littleEndian`), network order for DLT_LOOP. */
export function nullLink(family: number, payload: Buffer, littleEndian = true): Buffer {
  const h = Buffer.alloc(4);
  if (littleEndian) h.writeUInt32LE(family); else h.writeUInt32BE(family);
  return Buffer.concat([h, payload]);
}

export const AF_INET = 2;
/** AF_INET6 as BSD variants number it (24 NetBSD/OpenBSD, 28 FreeBSD, 30 macOS). */
export const AF_INET6_BSD = 24;
export const AF_INET6_DARWIN = 30;

// ---------------------------------------------------------------- network layers

export interface Ipv4Options {
  src: string | Buffer;
  dst: string | Buffer;
  proto: number;
  ttl?: number;
  id?: number;
  /** Don't fragment. */
  df?: boolean;
  /** More fragments. */
  mf?: boolean;
  /** Fragment offset in bytes (a multiple of 8). */
  fragOffset?: number;
  /** Overrides the total length field (for damaged packets). */
  totalLen?: number;
  /** IP options, padded to 4 bytes. */
  options?: Buffer;
}

export function ipv4(opts: Ipv4Options, payload: Buffer): Buffer {
  const optLen = opts.options ? (opts.options.length + 3) & ~3 : 0;
  const hl = 20 + optLen;
  const h = Buffer.alloc(hl);
  h[0] = 0x40 | (hl / 4);
  h.writeUInt16BE(opts.totalLen ?? hl + payload.length, 2);
  h.writeUInt16BE(opts.id ?? 0x1234, 4);
  const frag = ((opts.fragOffset ?? 0) / 8) | (opts.mf ? 0x2000 : 0) | (opts.df ? 0x4000 : 0);
  h.writeUInt16BE(frag, 6);
  h[8] = opts.ttl ?? 64;
  h[9] = opts.proto;
  addr(opts.src).copy(h, 12);
  addr(opts.dst).copy(h, 16);
  opts.options?.copy(h, 20);
  h.writeUInt16BE(ipv4Checksum(h), 10);
  return Buffer.concat([h, payload]);
}

function ipv4Checksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv6 extension header: hop-by-hop 0, routing 43, fragment 44, AH 51, destination options 60. */
export interface Ipv6Ext { type: number; body?: Buffer; fragOffset?: number; mf?: boolean }

export interface Ipv6Options {
  src: string | Buffer;
  dst: string | Buffer;
  /** The transport (or tunnelled) protocol after the extension headers. */
  next: number;
  hopLimit?: number;
  ext?: Ipv6Ext[];
  payloadLen?: number;
}

export function ipv6(opts: Ipv6Options, payload: Buffer): Buffer {
  const exts = opts.ext ?? [];
  const built: Buffer[] = [];
  for (let i = 0; i < exts.length; i++) {
    const e = exts[i];
    const next = i + 1 < exts.length ? exts[i + 1].type : opts.next;
    built.push(ipv6ExtHeader(e, next));
  }
  const extBytes = Buffer.concat(built);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(opts.payloadLen ?? extBytes.length + payload.length, 4);
  h[6] = exts.length > 0 ? exts[0].type : opts.next;
  h[7] = opts.hopLimit ?? 64;
  addr(opts.src).copy(h, 8);
  addr(opts.dst).copy(h, 24);
  return Buffer.concat([h, extBytes, payload]);
}

function ipv6ExtHeader(e: Ipv6Ext, next: number): Buffer {
  if (e.type === 44) {
    const f = Buffer.alloc(8);
    f[0] = next;
    f.writeUInt16BE(((e.fragOffset ?? 0) & 0xfff8) | (e.mf ? 1 : 0), 2);
    f.writeUInt32BE(0xabcd, 4);
    return f;
  }
  if (e.type === 51) {
    // AH: 12 fixed bytes (next, length, reserved, SPI, sequence) then the ICV; length in 4-byte units minus 2.
    const icv = e.body ?? Buffer.alloc(12);
    const total = (12 + icv.length + 7) & ~7;
    const f = Buffer.alloc(total);
    f[0] = next;
    f[1] = total / 4 - 2;
    icv.copy(f, 12);
    return f;
  }
  // Hop-by-hop, routing, destination options: length in 8-byte units minus 1, padded with PadN.
  const body = e.body ?? Buffer.alloc(0);
  const total = (2 + body.length + 7) & ~7;
  const f = Buffer.alloc(total);
  f[0] = next;
  f[1] = total / 8 - 1;
  body.copy(f, 2);
  if (total - 2 - body.length >= 2) {
    f[2 + body.length] = 1; // PadN
    f[3 + body.length] = total - 4 - body.length;
  }
  return f;
}

// ---------------------------------------------------------------- transport layers

export interface TcpOptions {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  flags?: number;
  window?: number;
  /** Raw option bytes; padded with zeros (EOL) to a multiple of 4. */
  options?: Buffer;
  /** Overrides the data offset nibble (for damaged packets). */
  dataOffsetWords?: number;
}

export function tcp(opts: TcpOptions, payload: Buffer = Buffer.alloc(0)): Buffer {
  const optLen = opts.options ? (opts.options.length + 3) & ~3 : 0;
  const h = Buffer.alloc(20 + optLen);
  h.writeUInt16BE(opts.sport, 0);
  h.writeUInt16BE(opts.dport, 2);
  h.writeUInt32BE((opts.seq ?? 1000) >>> 0, 4);
  h.writeUInt32BE((opts.ack ?? 0) >>> 0, 8);
  h[12] = (opts.dataOffsetWords ?? (20 + optLen) / 4) << 4;
  h[13] = opts.flags ?? ACK;
  h.writeUInt16BE(opts.window ?? 64240, 14);
  opts.options?.copy(h, 20);
  return Buffer.concat([h, payload]);
}

/** MSS, NOP, window scale, SACK-permitted, timestamps: a typical Linux SYN's option list. */
export function typicalSynOptions(): Buffer {
  return Buffer.from([2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);
}

export function udp(sport: number, dport: number, payload: Buffer, lengthField?: number): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(lengthField ?? 8 + payload.length, 4);
  return Buffer.concat([h, payload]);
}

// ---------------------------------------------------------------- tunnels

export interface GreOptions { protocol: number; checksum?: boolean; key?: number; seq?: number }

export function gre(opts: GreOptions, payload: Buffer): Buffer {
  let flags = 0;
  const extra: Buffer[] = [];
  if (opts.checksum) { flags |= 0x8000; extra.push(Buffer.alloc(4)); }
  if (opts.key !== undefined) { flags |= 0x2000; const b = Buffer.alloc(4); b.writeUInt32BE(opts.key >>> 0); extra.push(b); }
  if (opts.seq !== undefined) { flags |= 0x1000; const b = Buffer.alloc(4); b.writeUInt32BE(opts.seq >>> 0); extra.push(b); }
  const h = Buffer.alloc(4);
  h.writeUInt16BE(flags, 0);
  h.writeUInt16BE(opts.protocol, 2);
  return Buffer.concat([h, ...extra, payload]);
}

/** ERSPAN type I: GRE 0x88be without a sequence number and no ERSPAN header; the mirrored frame follows. */
export function erspan1(mirrored: Buffer): Buffer {
  return gre({ protocol: ETH_ERSPAN_2 }, mirrored);
}

/** ERSPAN type II: GRE 0x88be with a sequence number, then an 8-byte ERSPAN header. */
export function erspan2(mirrored: Buffer, sessionId = 1, seq = 1): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE((1 << 12) | 0 /* vlan */, 0); // version 1 = type II
  h.writeUInt16BE(sessionId & 0x3ff, 2);
  return gre({ protocol: ETH_ERSPAN_2, seq }, Buffer.concat([h, mirrored]));
}

/** ERSPAN type III: GRE 0x22eb with a sequence number, a 12-byte header, and an optional 8-byte platform sub-header. */
export function erspan3(mirrored: Buffer, withPlatform = false, seq = 1): Buffer {
  const h = Buffer.alloc(12 + (withPlatform ? 8 : 0));
  h.writeUInt16BE((2 << 12), 0); // version 2 = type III
  h.writeUInt16BE(7, 2); // session id
  h.writeUInt32BE(0x01020304, 4); // timestamp
  if (withPlatform) h[11] |= 0x01;
  return gre({ protocol: ETH_ERSPAN_3, seq }, Buffer.concat([h, mirrored]));
}

/** VXLAN header (I flag set) in front of an inner Ethernet frame; wrap it in udp(x, 4789, ...). */
export function vxlan(vni: number, innerFrame: Buffer): Buffer {
  const h = Buffer.alloc(8);
  h[0] = 0x08;
  h.writeUIntBE(vni & 0xffffff, 4, 3);
  return Buffer.concat([h, innerFrame]);
}

/** Geneve header with `options` (a multiple of 4 bytes) and an inner protocol (0x6558 for Ethernet). */
export function geneve(protocol: number, inner: Buffer, options: Buffer = Buffer.alloc(0), vni = 42): Buffer {
  if (options.length % 4 !== 0) throw new Error('Geneve options must be a multiple of 4 bytes');
  const h = Buffer.alloc(8);
  h[0] = options.length / 4; // version 0
  h.writeUInt16BE(protocol, 2);
  h.writeUIntBE(vni & 0xffffff, 4, 3);
  return Buffer.concat([h, options, inner]);
}

// ---------------------------------------------------------------- whole frames

export interface TcpFrameSpec extends TcpOptions {
  src?: string;
  dst?: string;
  payload?: Buffer;
  ttl?: number;
  vlans?: (number | VlanTag)[];
}

/** An Ethernet frame carrying TCP over IPv4 or IPv6 (chosen by the address syntax). */
export function tcpFrame(spec: TcpFrameSpec): Buffer {
  const src = spec.src ?? '10.0.0.1';
  const dst = spec.dst ?? '10.0.0.2';
  const seg = tcp(spec, spec.payload ?? Buffer.alloc(0));
  if (src.includes(':')) {
    return eth({ etherType: ETH_IPV6, vlans: spec.vlans }, ipv6({ src, dst, next: IP_TCP, hopLimit: spec.ttl }, seg));
  }
  return eth({ etherType: ETH_IPV4, vlans: spec.vlans }, ipv4({ src, dst, proto: IP_TCP, ttl: spec.ttl }, seg));
}

export function udpFrame(spec: { src?: string; dst?: string; sport: number; dport: number; payload?: Buffer }): Buffer {
  const src = spec.src ?? '10.0.0.1';
  const dst = spec.dst ?? '10.0.0.2';
  const dgram = udp(spec.sport, spec.dport, spec.payload ?? Buffer.alloc(0));
  if (src.includes(':')) return eth({ etherType: ETH_IPV6 }, ipv6({ src, dst, next: IP_UDP }, dgram));
  return eth({ etherType: ETH_IPV4 }, ipv4({ src, dst, proto: IP_UDP }, dgram));
}

/** Splits an IPv4 packet (header + payload) into fragments of at most `chunk` payload bytes (a multiple of 8). */
export function fragmentIpv4(packet: Buffer, chunk: number): Buffer[] {
  if (chunk % 8 !== 0) throw new Error('fragment size must be a multiple of 8');
  const hl = (packet[0] & 0x0f) * 4;
  const header = packet.subarray(0, hl);
  const body = packet.subarray(hl);
  const out: Buffer[] = [];
  for (let off = 0; off < body.length; off += chunk) {
    const part = body.subarray(off, Math.min(body.length, off + chunk));
    const h = Buffer.from(header);
    h.writeUInt16BE(hl + part.length, 2);
    h.writeUInt16BE((off / 8) | (off + chunk < body.length ? 0x2000 : 0), 6);
    h.writeUInt16BE(0, 10);
    h.writeUInt16BE(ipv4Checksum(h), 10);
    out.push(Buffer.concat([h, part]));
  }
  return out;
}

// ---------------------------------------------------------------- capture files

export interface CapturedFrame {
  data: Buffer;
  /** Microseconds since the epoch (integer). */
  tsUs?: number;
  origLen?: number;
}

export interface PcapOptions {
  linkType?: number;
  bigEndian?: boolean;
  /** Nanosecond-resolution magic (0xa1b23c4d). */
  nano?: boolean;
  snapLen?: number;
}

/** A classic pcap file. Timestamps default to 1 ms apart from 2024-01-01. */
export function pcapFile(frames: CapturedFrame[], opts: PcapOptions = {}): Buffer {
  const be = opts.bigEndian ?? false;
  const w32 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt32BE(v >>> 0, o) : b.writeUInt32LE(v >>> 0, o));
  const w16 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o));
  const gh = Buffer.alloc(24);
  w32(gh, opts.nano ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(gh, 2, 4);
  w16(gh, 4, 6);
  w32(gh, opts.snapLen ?? 262144, 16);
  w32(gh, opts.linkType ?? LINK_ETHERNET, 20);
  const parts: Buffer[] = [gh];
  frames.forEach((f, i) => {
    const tsUs = f.tsUs ?? DEFAULT_T0_US + i * 1000;
    const rh = Buffer.alloc(16);
    const sec = Math.floor(tsUs / 1e6);
    const us = tsUs - sec * 1e6;
    w32(rh, sec, 0);
    w32(rh, opts.nano ? Math.round(us * 1000) : us, 4);
    w32(rh, f.data.length, 8);
    w32(rh, f.origLen ?? f.data.length, 12);
    parts.push(rh, f.data);
  });
  return Buffer.concat(parts);
}

export const DEFAULT_T0_US = 1_704_067_200_000_000;

/** pcapng writer: blocks are built one by one in the section's byte order and concatenated. */
export class PcapngWriter {
  private readonly blocks: Buffer[] = [];

  constructor(readonly bigEndian = false) {}

  private w32(b: Buffer, v: number, o: number): void {
    if (this.bigEndian) b.writeUInt32BE(v >>> 0, o); else b.writeUInt32LE(v >>> 0, o);
  }

  private w16(b: Buffer, v: number, o: number): void {
    if (this.bigEndian) b.writeUInt16BE(v, o); else b.writeUInt16LE(v, o);
  }

  /** A whole block: type, total length, body padded to 4 bytes, total length. */
  block(type: number, body: Buffer): Buffer {
    const padded = (body.length + 3) & ~3;
    const len = 12 + padded;
    const b = Buffer.alloc(len);
    this.w32(b, type, 0);
    this.w32(b, len, 4);
    body.copy(b, 8);
    this.w32(b, len, len - 4);
    return b;
  }

  /** Encoded options list ending with opt_endofopt; `opts` are [code, value] pairs. */
  options(opts: [number, Buffer][]): Buffer {
    if (opts.length === 0) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    for (const [code, value] of opts) {
      const h = Buffer.alloc(4);
      this.w16(h, code, 0);
      this.w16(h, value.length, 2);
      parts.push(h, value, Buffer.alloc(((value.length + 3) & ~3) - value.length));
    }
    parts.push(Buffer.alloc(4));
    return Buffer.concat(parts);
  }

  add(block: Buffer): this {
    this.blocks.push(block);
    return this;
  }

  shb(opts: [number, Buffer][] = []): this {
    const body = Buffer.alloc(16);
    this.w32(body, 0x1a2b3c4d, 0);
    this.w16(body, 1, 4);
    this.w16(body, 0, 6);
    body.writeInt32LE(-1, 8);
    body.writeInt32LE(-1, 12);
    return this.add(this.block(0x0a0d0d0a, Buffer.concat([body, this.options(opts)])));
  }

  /** Interface description; `tsresol` is the raw if_tsresol byte (6 = µs default, 9 = ns, 0x80|n = 2^-n s). */
  idb(linkType: number, opts: { snapLen?: number; tsresol?: number; tsoffsetSec?: number; name?: string } = {}): this {
    const body = Buffer.alloc(8);
    this.w16(body, linkType, 0);
    this.w32(body, opts.snapLen ?? 0, 4);
    const o: [number, Buffer][] = [];
    if (opts.name !== undefined) o.push([2, Buffer.from(opts.name)]);
    if (opts.tsresol !== undefined) o.push([9, Buffer.of(opts.tsresol)]);
    if (opts.tsoffsetSec !== undefined) {
      const v = Buffer.alloc(8);
      if (this.bigEndian) v.writeBigInt64BE(BigInt(opts.tsoffsetSec)); else v.writeBigInt64LE(BigInt(opts.tsoffsetSec));
      o.push([14, v]);
    }
    return this.add(this.block(1, Buffer.concat([body, this.options(o)])));
  }

  /** Enhanced packet block; `ts` is in the interface's timestamp units. */
  epb(interfaceId: number, ts: bigint | number, data: Buffer, origLen = data.length, comment?: string): this {
    const h = Buffer.alloc(20);
    const t = BigInt(ts);
    this.w32(h, interfaceId, 0);
    this.w32(h, Number(t >> 32n), 4);
    this.w32(h, Number(t & 0xffffffffn), 8);
    this.w32(h, data.length, 12);
    this.w32(h, origLen, 16);
    const pad = Buffer.alloc(((data.length + 3) & ~3) - data.length);
    const opts = comment === undefined ? Buffer.alloc(0) : this.options([[1, Buffer.from(comment)]]);
    return this.add(this.block(6, Buffer.concat([h, data, pad, opts])));
  }

  spb(data: Buffer, origLen = data.length): this {
    const h = Buffer.alloc(4);
    this.w32(h, origLen, 0);
    return this.add(this.block(3, Buffer.concat([h, data])));
  }

  /** Name resolution block with IPv4 records (type 1). */
  nrb(entries: [string, string][]): this {
    const parts: Buffer[] = [];
    for (const [ip, name] of entries) {
      const v = Buffer.concat([ip4(ip), Buffer.from(name + '\0')]);
      const h = Buffer.alloc(4);
      this.w16(h, 1, 0);
      this.w16(h, v.length, 2);
      parts.push(h, v, Buffer.alloc(((v.length + 3) & ~3) - v.length));
    }
    parts.push(Buffer.alloc(4));
    return this.add(this.block(4, Buffer.concat(parts)));
  }

  /** Decryption secrets block (0x544c534b = TLS key log). */
  dsb(secretsType: number, secrets: Buffer): this {
    const h = Buffer.alloc(8);
    this.w32(h, secretsType, 0);
    this.w32(h, secrets.length, 4);
    return this.add(this.block(10, Buffer.concat([h, secrets])));
  }

  /** A block of a type the reader does not know (custom/statistics blocks must be skipped). */
  unknown(type: number, body: Buffer = Buffer.alloc(8)): this {
    return this.add(this.block(type, body));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.blocks);
  }
}

/** Splits a buffer into chunks of `size` bytes (the last may be shorter). */
export function chunks(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < buf.length; off += size) out.push(buf.subarray(off, Math.min(buf.length, off + size)));
  return out;
}

/** Deterministic pseudo-random numbers (mulberry32) for tests that need varied but reproducible input. */
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
