/**
 * The decoded view of one captured frame. The decoder fills a single instance per capture and
 * reuses it for every frame, so the per-packet path allocates nothing: fields are offsets into
 * `data`, and address strings are only formatted on demand.
 */
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export class Packet {
  /** 1-based index of the frame in the capture. */
  frame = 0;
  /** Capture timestamp, microseconds since the epoch (fractional for nanosecond captures). */
  tsUs = 0;
  /** Buffer holding the (innermost) IP packet; valid only while the packet is being handled. */
  data: Buffer = Buffer.alloc(0);
  ipVersion: 0 | 4 | 6 = 0;
  ipOff = 0;
  /** IPv4 TTL or IPv6 hop limit. */
  ttl = 0;
  /**
   * TTL of the outermost IPv4 header, else hop limit of the outermost IPv6 header (-1: none yet).
   * Tunnelled captures differ from `ttl` here; FoxIO's JA4L reads the first IP layer's TTL.
   */
  firstIpv4Ttl = -1;
  firstIpv6HopLimit = -1;
  /** Offsets of the source and destination addresses in `data`, and their length (4 or 16). */
  srcAddrOff = 0;
  dstAddrOff = 0;
  addrLen = 0;
  /** IP protocol of the transport header (6 TCP, 17 UDP, others left undecoded). */
  proto = 0;
  l4Off = 0;
  srcPort = 0;
  dstPort = 0;
  /** TCP only. */
  tcpFlags = 0;
  seq = 0;
  ack = 0;
  window = 0;
  tcpOptOff = 0;
  tcpOptLen = 0;
  /** Transport payload. */
  payloadOff = 0;
  payloadLen = 0;

  get payload(): Buffer {
    return this.data.subarray(this.payloadOff, this.payloadOff + this.payloadLen);
  }

  srcAddr(): string {
    return formatAddress(this.data, this.srcAddrOff, this.addrLen);
  }

  dstAddr(): string {
    return formatAddress(this.data, this.dstAddrOff, this.addrLen);
  }
}

/** Formats an IPv4 or IPv6 address the usual way (IPv6 compressed per RFC 5952, lower case). */
export function formatAddress(buf: Buffer, off: number, len: number): string {
  if (len === 4) return `${buf[off]}.${buf[off + 1]}.${buf[off + 2]}.${buf[off + 3]}`;
  const groups: number[] = new Array(8);
  for (let i = 0; i < 8; i++) groups[i] = buf.readUInt16BE(off + i * 2);
  // IPv4-mapped addresses print their IPv4 tail dotted, as inet_ntop does.
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0xffff) {
    return `::ffff:${buf[off + 12]}.${buf[off + 13]}.${buf[off + 14]}.${buf[off + 15]}`;
  }
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) return groups.map((g) => g.toString(16)).join(':');
  const head = groups.slice(0, bestStart).map((g) => g.toString(16)).join(':');
  const tail = groups.slice(bestStart + bestLen).map((g) => g.toString(16)).join(':');
  return `${head}::${tail}`;
}
