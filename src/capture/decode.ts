/**
 * Link → network → transport decoding into the reused Packet view. Tunnels (GRE, ERSPAN I/II/III,
 * VXLAN, Geneve, IP-in-IP) are unwrapped so the packet describes the innermost connection; IPv4
 * fragments are reassembled. Returns false for frames the sensor has no use for or cannot parse.
 */
import { Packet, PROTO_TCP, PROTO_UDP } from './packet.js';
import {
  LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2,
  LINKTYPE_LOOP, LINKTYPE_NULL, LINKTYPE_RAW, LINKTYPE_RAW_12, LINKTYPE_RAW_OPENBSD,
} from './capture-reader.js';
import { Ipv4Defragmenter } from './ipv4-defrag.js';

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
const ETH_QINQ_OLD = 0x9100;
const ETH_MPLS = 0x8847;
const ETH_MPLS_MC = 0x8848;
const ETH_PPPOE_SESSION = 0x8864;
const ETH_TEB = 0x6558;
const ETH_ERSPAN_2 = 0x88be;
const ETH_ERSPAN_3 = 0x22eb;

const IPPROTO_IPIP = 4;
const IPPROTO_IPV6 = 41;
const IPPROTO_GRE = 47;

const PORT_VXLAN = 4789;
/** VXLAN-GPE (RFC 9015 draft): like VXLAN, with a next-protocol byte. */
const PORT_VXLAN_GPE = 4790;
const PORT_GENEVE = 6081;

/**
 * Big-endian reads without Buffer#readUInt*'s argument validation (a measurable share of decoding
 * every packet): every caller has checked the bounds against `end` <= buf.length first.
 */
function u16(buf: Buffer, off: number): number {
  return (buf[off] << 8) | buf[off + 1];
}

function u32(buf: Buffer, off: number): number {
  return buf[off] * 0x1000000 + ((buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]);
}

/** Some link types a capture of the wrong interface brings, by name, for the message. */
const OTHER_LINK_TYPES: Record<number, string> = {
  9: 'PPP', 50: 'PPP in HDLC framing', 105: 'IEEE 802.11', 119: '802.11 with Prism header', 127: '802.11 with radiotap header',
  147: 'user-defined (DLT_USER0)', 163: '802.11 with AVS header', 187: 'Bluetooth HCI', 195: 'IEEE 802.15.4', 220: 'USB (Linux)',
};

/** "link type 105 (IEEE 802.11) is not supported…": one line for a log or stderr. */
export function unsupportedLinkTypeMessage(linkType: number): string {
  const name = OTHER_LINK_TYPES[linkType];
  return `link type ${linkType}${name ? ` (${name})` : ''} is not supported: its frames are skipped ` +
    '(supported: Ethernet, raw IPv4/IPv6, Linux cooked SLL and SLL2, BSD loopback; capture a wired interface, not a monitor-mode one)';
}

/** Tunnels inside tunnels beyond this depth are not followed (hostile nesting). */
const MAX_DEPTH = 6;

export interface DecodeStats {
  nonIp: number;
  malformed: number;
  fragments: number;
  tunnels: number;
}

export class Decoder {
  readonly stats: DecodeStats = { nonIp: 0, malformed: 0, fragments: 0, tunnels: 0 };
  /** Follow VXLAN/Geneve UDP encapsulation (on by default: a SPAN port often carries it). */
  decapsulateUdpTunnels = true;
  /**
   * Called once per link type the decoder cannot read: its frames are skipped, and a capture of
   * nothing but those (a Wi-Fi monitor interface) would otherwise just show no connections.
   */
  onUnsupportedLinkType: ((linkType: number) => void) | null = null;
  private readonly unsupportedSeen = new Set<number>();

  constructor(private readonly defrag = new Ipv4Defragmenter()) {}

  get pendingFragments(): number {
    return this.defrag.pending;
  }

  /**
   * Decodes into `pkt`. The capture time for fragment reassembly timeouts is pkt.tsUs, set by the
   * caller and read only when a fragment arrives (a double passed down every call was boxed per packet).
   */
  decode(linkType: number, buf: Buffer, pkt: Packet): boolean {
    pkt.ipVersion = 0;
    pkt.proto = 0;
    pkt.payloadLen = 0;
    pkt.firstIpv4Ttl = -1;
    pkt.firstIpv6HopLimit = -1;
    switch (linkType) {
      case LINKTYPE_ETHERNET:
        return this.ethernet(buf, 0, buf.length, pkt, 0);
      case LINKTYPE_RAW:
      case LINKTYPE_RAW_12:
      case LINKTYPE_RAW_OPENBSD:
        return this.ipByVersion(buf, 0, buf.length, pkt, 0);
      case LINKTYPE_IPV4:
        return this.ipv4(buf, 0, buf.length, pkt, 0);
      case LINKTYPE_IPV6:
        return this.ipv6(buf, 0, buf.length, pkt, 0);
      case LINKTYPE_NULL:
      case LINKTYPE_LOOP: {
        if (buf.length < 4) return this.bad();
        // NULL stores the address family in host order, LOOP in network order; both fit a byte.
        const family = buf[0] !== 0 ? buf[0] : buf[3];
        if (family === 2) return this.ipv4(buf, 4, buf.length, pkt, 0);
        if (family === 24 || family === 28 || family === 30 || family === 10) return this.ipv6(buf, 4, buf.length, pkt, 0);
        return this.notIp();
      }
      case LINKTYPE_LINUX_SLL:
        if (buf.length < 16) return this.bad();
        return this.byEtherType(u16(buf, 14), buf, 16, buf.length, pkt, 0);
      case LINKTYPE_LINUX_SLL2:
        if (buf.length < 20) return this.bad();
        return this.byEtherType(u16(buf, 0), buf, 20, buf.length, pkt, 0);
      default:
        if (this.onUnsupportedLinkType !== null && !this.unsupportedSeen.has(linkType) && this.unsupportedSeen.size < 64) {
          this.unsupportedSeen.add(linkType);
          this.onUnsupportedLinkType(linkType);
        }
        return this.notIp();
    }
  }

  private bad(): boolean {
    this.stats.malformed++;
    return false;
  }

  private notIp(): boolean {
    this.stats.nonIp++;
    return false;
  }

  private ethernet(buf: Buffer, off: number, end: number, pkt: Packet, depth: number): boolean {
    if (end - off < 14) return this.bad();
    return this.byEtherType(u16(buf, off + 12), buf, off + 14, end, pkt, depth);
  }

  private byEtherType(etherType: number, buf: Buffer, off: number, end: number, pkt: Packet, depth: number): boolean {
    // VLAN tags (802.1Q, QinQ) stack; each is 4 bytes ending in the next ethertype.
    while (etherType === ETH_VLAN || etherType === ETH_QINQ || etherType === ETH_QINQ_OLD) {
      if (end - off < 4) return this.bad();
      etherType = u16(buf, off + 2);
      off += 4;
    }
    switch (etherType) {
      case ETH_IPV4:
        return this.ipv4(buf, off, end, pkt, depth);
      case ETH_IPV6:
        return this.ipv6(buf, off, end, pkt, depth);
      case ETH_MPLS:
      case ETH_MPLS_MC: {
        // Walk the label stack to its bottom, then tell IPv4 from IPv6 by the version nibble.
        for (let i = 0; i < 16; i++) {
          if (end - off < 4) return this.bad();
          const bottom = (buf[off + 2] & 0x01) !== 0;
          off += 4;
          if (bottom) return this.ipByVersion(buf, off, end, pkt, depth);
        }
        return this.bad();
      }
      case ETH_PPPOE_SESSION: {
        if (end - off < 8) return this.bad();
        const pppProto = u16(buf, off + 6);
        if (pppProto === 0x0021) return this.ipv4(buf, off + 8, end, pkt, depth);
        if (pppProto === 0x0057) return this.ipv6(buf, off + 8, end, pkt, depth);
        return this.notIp();
      }
      default:
        return this.notIp();
    }
  }

  private ipByVersion(buf: Buffer, off: number, end: number, pkt: Packet, depth: number): boolean {
    if (end - off < 1) return this.bad();
    const version = buf[off] >> 4;
    if (version === 4) return this.ipv4(buf, off, end, pkt, depth);
    if (version === 6) return this.ipv6(buf, off, end, pkt, depth);
    return this.notIp();
  }

  private ipv4(buf: Buffer, off: number, end: number, pkt: Packet, depth: number): boolean {
    if (end - off < 20) return this.bad();
    const vihl = buf[off];
    if (vihl >> 4 !== 4) return this.bad();
    let headerLen = (vihl & 0x0f) * 4;
    if (pkt.firstIpv4Ttl < 0) pkt.firstIpv4Ttl = buf[off + 8];
    let totalLen = u16(buf, off + 2);
    // Total length 0: a segmentation-offloaded packet captured on the sending host; trust the capture.
    if (totalLen === 0) totalLen = end - off;
    if (headerLen < 20 || totalLen < headerLen || end - off < headerLen) return this.bad();
    // A snapped capture holds less than totalLen; trailing Ethernet padding makes it hold more.
    let ipEnd = off + totalLen;
    if (ipEnd > end) ipEnd = end;
    const flagsFrag = u16(buf, off + 6);
    if ((flagsFrag & 0x3fff) !== 0) {
      this.stats.fragments++;
      if (ipEnd - off < totalLen) return this.bad();
      const whole = this.defrag.add(buf, off, headerLen, totalLen, pkt.tsUs);
      if (whole === null) return false;
      buf = whole;
      off = 0;
      ipEnd = whole.length;
      // The datagram's header is the first fragment's, whose options (those not copied into every
      // fragment, such as Record Route) may make it longer than this last fragment's.
      headerLen = (whole[0] & 0x0f) * 4;
    }
    const proto = buf[off + 9];
    if (proto === IPPROTO_GRE || proto === IPPROTO_IPIP || proto === IPPROTO_IPV6) {
      return this.tunnel(proto, buf, off + headerLen, ipEnd, pkt, depth);
    }
    pkt.data = buf;
    pkt.ipVersion = 4;
    pkt.ipOff = off;
    pkt.ttl = buf[off + 8];
    pkt.srcAddrOff = off + 12;
    pkt.dstAddrOff = off + 16;
    pkt.addrLen = 4;
    return this.transport(proto, buf, off + headerLen, ipEnd, pkt, depth);
  }

  private ipv6(buf: Buffer, off: number, end: number, pkt: Packet, depth: number): boolean {
    if (end - off < 40) return this.bad();
    if (buf[off] >> 4 !== 6) return this.bad();
    if (pkt.firstIpv6HopLimit < 0) pkt.firstIpv6HopLimit = buf[off + 7];
    const payloadLen = u16(buf, off + 4);
    let ipEnd = off + 40 + payloadLen;
    // Payload length 0 means a jumbogram; take what was captured.
    if (payloadLen === 0 || ipEnd > end) ipEnd = end;
    let next = buf[off + 6];
    let p = off + 40;
    // Extension headers: hop-by-hop, routing, destination options, AH, mobility.
    for (let i = 0; i < 8; i++) {
      if (next === 0 || next === 43 || next === 60 || next === 135) {
        if (ipEnd - p < 8) return this.bad();
        next = buf[p];
        p += (buf[p + 1] + 1) * 8;
      } else if (next === 51) {
        if (ipEnd - p < 8) return this.bad();
        next = buf[p];
        p += (buf[p + 1] + 2) * 4;
      } else if (next === 44) {
        // IPv6 fragments: only the first fragment of a datagram carries the transport header.
        if (ipEnd - p < 8) return this.bad();
        this.stats.fragments++;
        const fragOff = u16(buf, p + 2) & 0xfff8;
        if (fragOff !== 0) return false;
        next = buf[p];
        p += 8;
      } else {
        break;
      }
    }
    if (p > ipEnd) return this.bad();
    if (next === IPPROTO_GRE || next === IPPROTO_IPIP || next === IPPROTO_IPV6) {
      return this.tunnel(next, buf, p, ipEnd, pkt, depth);
    }
    pkt.data = buf;
    pkt.ipVersion = 6;
    pkt.ipOff = off;
    pkt.ttl = buf[off + 7];
    pkt.srcAddrOff = off + 8;
    pkt.dstAddrOff = off + 24;
    pkt.addrLen = 16;
    return this.transport(next, buf, p, ipEnd, pkt, depth);
  }

  private tunnel(proto: number, buf: Buffer, off: number, end: number, pkt: Packet, depth: number): boolean {
    if (depth >= MAX_DEPTH) return this.bad();
    this.stats.tunnels++;
    if (proto === IPPROTO_IPIP) return this.ipv4(buf, off, end, pkt, depth + 1);
    if (proto === IPPROTO_IPV6) return this.ipv6(buf, off, end, pkt, depth + 1);
    return this.gre(buf, off, end, pkt, depth + 1);
  }

  private gre(buf: Buffer, off: number, end: number, pkt: Packet, depth: number): boolean {
    if (end - off < 4) return this.bad();
    const flags = u16(buf, off);
    const protocol = u16(buf, off + 2);
    const version = flags & 0x7;
    let p = off + 4;
    if (version === 1) {
      // Enhanced GRE (PPTP): key always present, sequence and acknowledgment optional.
      p += 4;
      if (flags & 0x1000) p += 4;
      if (flags & 0x0080) p += 4;
      if (protocol !== 0x880b || end - p < 2) return this.notIp();
      // PPP in HDLC-like framing may carry address/control bytes before the protocol.
      if (buf[p] === 0xff && buf[p + 1] === 0x03) p += 2;
      if (end - p < 2) return this.bad();
      const pppProto = buf[p] & 1 ? buf[p] : u16(buf, p);
      p += buf[p] & 1 ? 1 : 2;
      if (pppProto === 0x21 || pppProto === 0x0021) return this.ipv4(buf, p, end, pkt, depth);
      if (pppProto === 0x57 || pppProto === 0x0057) return this.ipv6(buf, p, end, pkt, depth);
      return this.notIp();
    }
    if (flags & 0x8000) p += 4; // checksum + reserved
    if (flags & 0x2000) p += 4; // key
    const hasSeq = (flags & 0x1000) !== 0;
    if (hasSeq) p += 4;
    if (p > end) return this.bad();
    switch (protocol) {
      case ETH_TEB:
        return this.ethernet(buf, p, end, pkt, depth);
      case ETH_ERSPAN_2:
        // ERSPAN type I has no header of its own (and no sequence number); type II has 8 bytes.
        return this.ethernet(buf, hasSeq ? p + 8 : p, end, pkt, depth);
      case ETH_ERSPAN_3: {
        if (end - p < 12) return this.bad();
        // The O flag (lowest bit of the 12th byte) announces an 8-byte platform sub-header.
        const hasPlatform = (buf[p + 11] & 0x01) !== 0;
        return this.ethernet(buf, p + 12 + (hasPlatform ? 8 : 0), end, pkt, depth);
      }
      default:
        return this.byEtherType(protocol, buf, p, end, pkt, depth);
    }
  }

  private transport(proto: number, buf: Buffer, off: number, end: number, pkt: Packet, depth: number): boolean {
    pkt.proto = proto;
    pkt.l4Off = off;
    if (proto === PROTO_TCP) {
      if (end - off < 20) return this.bad();
      const dataOff = (buf[off + 12] >> 4) * 4;
      if (dataOff < 20 || end - off < dataOff) return this.bad();
      pkt.srcPort = u16(buf, off);
      pkt.dstPort = u16(buf, off + 2);
      pkt.seq = u32(buf, off + 4);
      pkt.ack = u32(buf, off + 8);
      pkt.tcpFlags = buf[off + 13];
      pkt.window = u16(buf, off + 14);
      pkt.tcpOptOff = off + 20;
      pkt.tcpOptLen = dataOff - 20;
      pkt.payloadOff = off + dataOff;
      pkt.payloadLen = end - off - dataOff;
      return true;
    }
    if (proto === PROTO_UDP) {
      if (end - off < 8) return this.bad();
      const srcPort = u16(buf, off);
      const dstPort = u16(buf, off + 2);
      const udpLen = u16(buf, off + 4);
      let udpEnd = off + udpLen;
      if (udpLen < 8 || udpEnd > end) udpEnd = end;
      if (this.decapsulateUdpTunnels && depth < MAX_DEPTH) {
        if (dstPort === PORT_VXLAN_GPE && udpEnd - off >= 16 && (buf[off + 8] & 0x08) !== 0) {
          // Next protocol: 1 IPv4, 2 IPv6, 3 Ethernet (without the P flag it is Ethernet).
          const next = (buf[off + 8] & 0x04) !== 0 ? buf[off + 11] : 3;
          const p = off + 16;
          if (next === 1 || next === 2 || next === 3) this.stats.tunnels++;
          if (next === 3) return this.ethernet(buf, p, udpEnd, pkt, depth + 1);
          if (next === 1) return this.ipv4(buf, p, udpEnd, pkt, depth + 1);
          if (next === 2) return this.ipv6(buf, p, udpEnd, pkt, depth + 1);
        }
        if (dstPort === PORT_VXLAN && udpEnd - off >= 16 && (buf[off + 8] & 0x08) !== 0) {
          this.stats.tunnels++;
          return this.ethernet(buf, off + 16, udpEnd, pkt, depth + 1);
        }
        if (dstPort === PORT_GENEVE && udpEnd - off >= 16 && buf[off + 8] >> 6 === 0) {
          this.stats.tunnels++;
          const optLen = (buf[off + 8] & 0x3f) * 4;
          const inner = u16(buf, off + 10);
          const p = off + 16 + optLen;
          if (p > udpEnd) return this.bad();
          if (inner === ETH_TEB) return this.ethernet(buf, p, udpEnd, pkt, depth + 1);
          return this.byEtherType(inner, buf, p, udpEnd, pkt, depth + 1);
        }
      }
      pkt.srcPort = srcPort;
      pkt.dstPort = dstPort;
      pkt.tcpFlags = 0;
      pkt.tcpOptLen = 0;
      pkt.payloadOff = off + 8;
      pkt.payloadLen = udpEnd - off - 8;
      return true;
    }
    // Other protocols (ICMP, ...) are recognised as IP but carry no fingerprint.
    pkt.srcPort = 0;
    pkt.dstPort = 0;
    pkt.payloadOff = off;
    pkt.payloadLen = end - off;
    return true;
  }
}
