import { Decoder, unsupportedLinkTypeMessage } from '../../src/capture/decode.js';
import { Packet } from '../../src/capture/packet.js';
import {
  ACK, AF_INET, AF_INET6_BSD, AF_INET6_DARWIN, ETH_ARP, ETH_IPV4, ETH_IPV6, ETH_MPLS, ETH_QINQ, ETH_TEB, ETH_VLAN,
  IP_GRE, IP_ICMP, IP_IPIP, IP_IPV6, IP_TCP, IP_UDP, LINK_ETHERNET, LINK_IPV4, LINK_IPV6, LINK_LOOP, LINK_NULL,
  LINK_RAW, LINK_SLL, LINK_SLL2, PSH, SYN, erspan1, erspan2, erspan3, eth, geneve, gre, ipv4, ipv6, nullLink, sll,
  sll2, tcp, typicalSynOptions, udp, vxlan,
} from '../helpers/packets.js';

const payload = Buffer.from('GET / HTTP/1.1\r\nHost: example.com\r\n\r\n');
const seg = tcp({ sport: 51000, dport: 80, seq: 0xfffffff0, ack: 0x01020304, flags: PSH | ACK, window: 502 }, payload);
const ip4pkt = ipv4({ src: '192.0.2.1', dst: '198.51.100.7', proto: IP_TCP, ttl: 57 }, seg);
const ip6pkt = ipv6({ src: '2001:db8::1', dst: '2001:db8:0:1::2', next: IP_TCP, hopLimit: 63 }, seg);

function decode(linkType: number, frame: Buffer, decoder = new Decoder()): { ok: boolean; pkt: Packet; decoder: Decoder } {
  const pkt = new Packet();
  pkt.tsUs = 1e12;
  const ok = decoder.decode(linkType, frame, pkt);
  return { ok, pkt, decoder };
}

/** The fields of the TCP segment `seg` as the decoder must report them. */
function expectSeg(pkt: Packet): void {
  expect(pkt.proto).toBe(IP_TCP);
  expect(pkt.srcPort).toBe(51000);
  expect(pkt.dstPort).toBe(80);
  expect(pkt.seq).toBe(0xfffffff0);
  expect(pkt.ack).toBe(0x01020304);
  expect(pkt.tcpFlags).toBe(PSH | ACK);
  expect(pkt.window).toBe(502);
  expect(pkt.tcpOptLen).toBe(0);
  expect(pkt.payload.toString()).toBe(payload.toString());
}

function expectV4(pkt: Packet): void {
  expect(pkt.ipVersion).toBe(4);
  expect(pkt.srcAddr()).toBe('192.0.2.1');
  expect(pkt.dstAddr()).toBe('198.51.100.7');
  expect(pkt.ttl).toBe(57);
  expectSeg(pkt);
}

function expectV6(pkt: Packet): void {
  expect(pkt.ipVersion).toBe(6);
  expect(pkt.srcAddr()).toBe('2001:db8::1');
  expect(pkt.dstAddr()).toBe('2001:db8:0:1::2');
  expect(pkt.ttl).toBe(63);
  expectSeg(pkt);
}

describe('link types', () => {
  test('Ethernet, IPv4 and IPv6', () => {
    const a = decode(LINK_ETHERNET, eth({ etherType: ETH_IPV4 }, ip4pkt));
    expect(a.ok).toBe(true);
    expectV4(a.pkt);
    const b = decode(LINK_ETHERNET, eth({ etherType: ETH_IPV6 }, ip6pkt));
    expect(b.ok).toBe(true);
    expectV6(b.pkt);
  });

  test('802.1Q, QinQ (0x88a8 outer) and the old 0x9100 outer tag', () => {
    expectV4(decode(LINK_ETHERNET, eth({ etherType: ETH_IPV4, vlans: [100] }, ip4pkt)).pkt);
    expectV6(decode(LINK_ETHERNET, eth({ etherType: ETH_IPV6, vlans: [{ tpid: ETH_QINQ, vid: 10 }, { tpid: ETH_VLAN, vid: 20 }] }, ip6pkt)).pkt);
    expectV4(decode(LINK_ETHERNET, eth({ etherType: ETH_IPV4, vlans: [{ tpid: 0x9100, vid: 1 }, 2, 3] }, ip4pkt)).pkt);
  });

  test('a VLAN tag cut short is malformed', () => {
    const frame = eth({ etherType: ETH_VLAN }, Buffer.from([0, 1]));
    const r = decode(LINK_ETHERNET, frame);
    expect(r.ok).toBe(false);
    expect(r.decoder.stats.malformed).toBe(1);
  });

  test('Linux cooked SLL and SLL2', () => {
    expectV4(decode(LINK_SLL, sll(ETH_IPV4, ip4pkt)).pkt);
    expectV6(decode(LINK_SLL, sll(ETH_IPV6, ip6pkt, 4)).pkt);
    expectV4(decode(LINK_SLL2, sll2(ETH_IPV4, ip4pkt)).pkt);
    expectV6(decode(LINK_SLL2, sll2(ETH_IPV6, ip6pkt)).pkt);
    expectV4(decode(LINK_SLL2, sll2(ETH_VLAN, Buffer.concat([Buffer.from([0, 5, 0x08, 0x00]), ip4pkt]))).pkt);
  });

  test('raw IP (101, 228, 229)', () => {
    expectV4(decode(LINK_RAW, ip4pkt).pkt);
    expectV6(decode(LINK_RAW, ip6pkt).pkt);
    expectV4(decode(LINK_IPV4, ip4pkt).pkt);
    expectV6(decode(LINK_IPV6, ip6pkt).pkt);
    expect(decode(LINK_IPV4, ip6pkt).ok).toBe(false);
  });

  test('BSD null (host order, either endianness) and loop (network order)', () => {
    expectV4(decode(LINK_NULL, nullLink(AF_INET, ip4pkt, true)).pkt);
    expectV4(decode(LINK_NULL, nullLink(AF_INET, ip4pkt, false)).pkt);
    expectV6(decode(LINK_NULL, nullLink(AF_INET6_BSD, ip6pkt, true)).pkt);
    expectV6(decode(LINK_NULL, nullLink(28, ip6pkt, false)).pkt);
    expectV6(decode(LINK_LOOP, nullLink(AF_INET6_DARWIN, ip6pkt, false)).pkt);
    expectV4(decode(LINK_LOOP, nullLink(AF_INET, ip4pkt, false)).pkt);
    const other = decode(LINK_NULL, nullLink(7, ip4pkt));
    expect(other.ok).toBe(false);
    expect(other.decoder.stats.nonIp).toBe(1);
  });

  test('non-IP frames and unknown link types are counted, not decoded', () => {
    const d = new Decoder();
    expect(decode(LINK_ETHERNET, eth({ etherType: ETH_ARP }, Buffer.alloc(28)), d).ok).toBe(false);
    expect(decode(147, ip4pkt, d).ok).toBe(false);
    expect(d.stats.nonIp).toBe(2);
    expect(d.stats.malformed).toBe(0);
  });

  test.each([
    [LINK_ETHERNET, 13], [LINK_SLL, 15], [LINK_SLL2, 19], [LINK_NULL, 3], [LINK_RAW, 0],
  ])('link type %i frame shorter than its header (%i bytes) is malformed', (linkType, len) => {
    const r = decode(linkType, Buffer.alloc(len, 0x45));
    expect(r.ok).toBe(false);
    expect(r.decoder.stats.malformed).toBe(1);
  });
});

describe('IPv4', () => {
  test('options are skipped by the header length', () => {
    const p = ipv4({ src: '192.0.2.1', dst: '198.51.100.7', proto: IP_TCP, ttl: 57, options: Buffer.from([0x94, 4, 0, 0]) }, seg);
    expectV4(decode(LINK_RAW, p).pkt);
  });

  test('Ethernet padding beyond the total length is not payload', () => {
    const small = ipv4({ src: '1.2.3.4', dst: '5.6.7.8', proto: IP_TCP }, tcp({ sport: 1, dport: 2, flags: SYN }));
    const frame = Buffer.concat([eth({ etherType: ETH_IPV4 }, small), Buffer.alloc(6, 0xaa)]);
    const r = decode(LINK_ETHERNET, frame);
    expect(r.ok).toBe(true);
    expect(r.pkt.payloadLen).toBe(0);
  });

  test('a snapped packet gives what was captured', () => {
    const r = decode(LINK_RAW, ip4pkt.subarray(0, ip4pkt.length - 10));
    expect(r.ok).toBe(true);
    expect(r.pkt.payload.toString()).toBe(payload.subarray(0, payload.length - 10).toString());
  });

  test('total length 0 (segmentation offload on the capturing host) takes the captured length', () => {
    const p = Buffer.from(ip4pkt);
    p.writeUInt16BE(0, 2);
    expectV4(decode(LINK_RAW, p).pkt);
  });

  test.each([
    ['header length below 20', (p: Buffer) => { p[0] = 0x44; }],
    ['header length beyond the packet', (p: Buffer) => { p[0] = 0x4f; p.writeUInt16BE(60, 2); }],
    ['total length below the header length', (p: Buffer) => { p.writeUInt16BE(19, 2); }],
    ['version not 4 on an IPv4 link', (p: Buffer) => { p[0] = 0x55; }],
  ])('%s is malformed', (_what, damage) => {
    const p = Buffer.from(ip4pkt.subarray(0, 40));
    damage(p);
    const r = decode(LINK_IPV4, p);
    expect(r.ok).toBe(false);
    expect(r.decoder.stats.malformed).toBe(1);
  });

  test('other IP protocols decode as IP without ports', () => {
    const r = decode(LINK_RAW, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: IP_ICMP }, Buffer.from([8, 0, 0, 0, 0, 1, 0, 1])));
    expect(r.ok).toBe(true);
    expect(r.pkt.proto).toBe(IP_ICMP);
    expect(r.pkt.srcPort).toBe(0);
    expect(r.pkt.payloadLen).toBe(8);
  });
});

describe('IPv6 extension headers', () => {
  test.each([
    ['hop-by-hop', [{ type: 0 }]],
    ['hop-by-hop with a long option', [{ type: 0, body: Buffer.alloc(20, 1) }]],
    ['routing then destination options', [{ type: 43, body: Buffer.from([0, 0, 0, 0, 0, 0]) }, { type: 60 }]],
    ['authentication header', [{ type: 51 }]],
    ['AH with a 16-byte ICV after hop-by-hop', [{ type: 0 }, { type: 51, body: Buffer.alloc(16, 9) }]],
    ['first fragment', [{ type: 44, fragOffset: 0, mf: true }]],
    ['hop-by-hop, dst opts, routing, fragment, AH, dst opts', [{ type: 0 }, { type: 60 }, { type: 43 }, { type: 44 }, { type: 51 }, { type: 60 }]],
  ])('%s', (_what, ext) => {
    const p = ipv6({ src: '2001:db8::1', dst: '2001:db8:0:1::2', next: IP_TCP, hopLimit: 63, ext }, seg);
    const r = decode(LINK_RAW, p);
    expect(r.ok).toBe(true);
    expectV6(r.pkt);
  });

  test('a non-first fragment carries no transport header', () => {
    const p = ipv6({ src: '2001:db8::1', dst: '2001:db8::2', next: IP_TCP, ext: [{ type: 44, fragOffset: 1232 }] }, seg);
    const r = decode(LINK_RAW, p);
    expect(r.ok).toBe(false);
    expect(r.decoder.stats.fragments).toBe(1);
    expect(r.decoder.stats.malformed).toBe(0);
  });

  test('an extension header running past the packet is malformed', () => {
    const p = ipv6({ src: '2001:db8::1', dst: '2001:db8::2', next: IP_TCP, ext: [{ type: 0 }] }, seg);
    p[41] = 200; // hop-by-hop length: 1608 bytes
    const r = decode(LINK_RAW, p);
    expect(r.ok).toBe(false);
    expect(r.decoder.stats.malformed).toBe(1);
  });

  test('payload length 0 (jumbogram) takes the captured length', () => {
    const p = Buffer.from(ip6pkt);
    p.writeUInt16BE(0, 4);
    expectV6(decode(LINK_RAW, p).pkt);
  });

  test('UDP over IPv6', () => {
    const r = decode(LINK_RAW, ipv6({ src: '::1', dst: 'fe80::1', next: IP_UDP }, udp(5353, 53, Buffer.from('dns'))));
    expect(r.ok).toBe(true);
    expect([r.pkt.proto, r.pkt.srcPort, r.pkt.dstPort, r.pkt.payload.toString()]).toEqual([IP_UDP, 5353, 53, 'dns']);
    expect(r.pkt.srcAddr()).toBe('::1');
  });
});

describe('TCP and UDP', () => {
  test('TCP options are located and the payload follows them', () => {
    const s = tcp({ sport: 1, dport: 443, flags: SYN, options: typicalSynOptions() }, Buffer.alloc(0));
    const r = decode(LINK_RAW, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: IP_TCP }, s));
    expect(r.ok).toBe(true);
    expect(r.pkt.tcpOptLen).toBe(20);
    expect(r.pkt.data.subarray(r.pkt.tcpOptOff, r.pkt.tcpOptOff + r.pkt.tcpOptLen)).toEqual(typicalSynOptions());
    expect(r.pkt.payloadLen).toBe(0);
  });

  test.each([
    ['data offset below 5 words', 4],
    ['data offset beyond the segment', 15],
  ])('TCP %s is malformed', (_what, words) => {
    const s = tcp({ sport: 1, dport: 2, dataOffsetWords: words });
    const r = decode(LINK_RAW, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: IP_TCP }, s));
    expect(r.ok).toBe(false);
    expect(r.decoder.stats.malformed).toBe(1);
  });

  test('a TCP header cut short is malformed', () => {
    const r = decode(LINK_RAW, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: IP_TCP }, Buffer.alloc(19)));
    expect(r.ok).toBe(false);
  });

  test('UDP length field: honoured when it fits, ignored when it lies', () => {
    const inner = Buffer.from('0123456789');
    const fits = decode(LINK_RAW, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: IP_UDP }, udp(1000, 2000, inner, 12)));
    expect(fits.pkt.payload.toString()).toBe('0123');
    for (const lie of [0, 3, 0xffff]) {
      const r = decode(LINK_RAW, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: IP_UDP }, udp(1000, 2000, inner, lie)));
      expect(r.ok).toBe(true);
      expect(r.pkt.payload.toString()).toBe('0123456789');
    }
    expect(decode(LINK_RAW, ipv4({ src: '1.1.1.1', dst: '2.2.2.2', proto: IP_UDP }, Buffer.alloc(7))).ok).toBe(false);
  });
});

describe('tunnels', () => {
  const outer = (proto: number, inner: Buffer) =>
    eth({ etherType: ETH_IPV4 }, ipv4({ src: '172.16.0.1', dst: '172.16.0.2', proto }, inner));
  const innerFrame = eth({ etherType: ETH_IPV4, vlans: [7] }, ip4pkt);

  test('GRE carrying IPv4 and IPv6, with checksum, key and sequence fields', () => {
    expectV4(decode(LINK_ETHERNET, outer(IP_GRE, gre({ protocol: ETH_IPV4 }, ip4pkt))).pkt);
    expectV6(decode(LINK_ETHERNET, outer(IP_GRE, gre({ protocol: ETH_IPV6, checksum: true, key: 5, seq: 9 }, ip6pkt))).pkt);
    const r = decode(LINK_ETHERNET, outer(IP_GRE, gre({ protocol: ETH_IPV4, key: 1 }, ip4pkt)));
    expect(r.decoder.stats.tunnels).toBe(1);
  });

  test('GRE transparent Ethernet bridging', () => {
    expectV4(decode(LINK_ETHERNET, outer(IP_GRE, gre({ protocol: ETH_TEB }, innerFrame))).pkt);
  });

  test('GRE over IPv6', () => {
    const f = eth({ etherType: ETH_IPV6 }, ipv6({ src: 'fd00::1', dst: 'fd00::2', next: IP_GRE }, gre({ protocol: ETH_IPV4 }, ip4pkt)));
    expectV4(decode(LINK_ETHERNET, f).pkt);
  });

  test('enhanced GRE (PPTP) carrying PPP IPv4', () => {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(0x3001, 0); // key present, sequence present, version 1
    h.writeUInt16BE(0x880b, 2);
    const ppp = Buffer.from([0xff, 0x03, 0x00, 0x21]);
    expectV4(decode(LINK_ETHERNET, outer(IP_GRE, Buffer.concat([h, ppp, ip4pkt]))).pkt);
  });

  test('ERSPAN type I, II and III (with and without the platform sub-header)', () => {
    expectV4(decode(LINK_ETHERNET, outer(IP_GRE, erspan1(innerFrame))).pkt);
    expectV4(decode(LINK_ETHERNET, outer(IP_GRE, erspan2(innerFrame))).pkt);
    expectV4(decode(LINK_ETHERNET, outer(IP_GRE, erspan3(innerFrame))).pkt);
    expectV6(decode(LINK_ETHERNET, outer(IP_GRE, erspan3(eth({ etherType: ETH_IPV6 }, ip6pkt), true))).pkt);
  });

  test('VXLAN', () => {
    const f = outer(IP_UDP, udp(49152, 4789, vxlan(1001, innerFrame)));
    const r = decode(LINK_ETHERNET, f);
    expect(r.ok).toBe(true);
    expectV4(r.pkt);
  });

  test('VXLAN without the I flag is ordinary UDP', () => {
    const v = vxlan(1, innerFrame);
    v[0] = 0;
    const r = decode(LINK_ETHERNET, outer(IP_UDP, udp(49152, 4789, v)));
    expect(r.pkt.proto).toBe(IP_UDP);
    expect(r.pkt.dstPort).toBe(4789);
  });

  test('VXLAN decapsulation can be switched off', () => {
    const d = new Decoder();
    d.decapsulateUdpTunnels = false;
    const r = decode(LINK_ETHERNET, outer(IP_UDP, udp(49152, 4789, vxlan(1, innerFrame))), d);
    expect(r.pkt.proto).toBe(IP_UDP);
    expect(r.pkt.dstPort).toBe(4789);
  });

  test('Geneve with Ethernet, with options, and with IPv4 directly', () => {
    expectV4(decode(LINK_ETHERNET, outer(IP_UDP, udp(1, 6081, geneve(ETH_TEB, innerFrame)))).pkt);
    expectV4(decode(LINK_ETHERNET, outer(IP_UDP, udp(1, 6081, geneve(ETH_TEB, innerFrame, Buffer.alloc(8, 0x11))))).pkt);
    expectV6(decode(LINK_ETHERNET, outer(IP_UDP, udp(1, 6081, geneve(ETH_IPV6, ip6pkt)))).pkt);
  });

  test('Geneve options longer than the datagram are malformed', () => {
    const g = geneve(ETH_TEB, Buffer.alloc(0));
    g[0] = 0x3f;
    const r = decode(LINK_ETHERNET, outer(IP_UDP, udp(1, 6081, g)));
    expect(r.ok).toBe(false);
    expect(r.decoder.stats.malformed).toBe(1);
  });

  test('IP-in-IP and IPv6-in-IPv4', () => {
    expectV4(decode(LINK_ETHERNET, outer(IP_IPIP, ip4pkt)).pkt);
    expectV6(decode(LINK_ETHERNET, outer(IP_IPV6, ip6pkt)).pkt);
  });

  test('MPLS label stack and PPPoE session', () => {
    const labels = Buffer.from([0, 0x01, 0x00, 64, 0, 0x02, 0x01, 64]); // two labels, bottom of stack on the second
    expectV4(decode(LINK_ETHERNET, eth({ etherType: ETH_MPLS }, Buffer.concat([labels, ip4pkt]))).pkt);
    const pppoe = Buffer.from([0x11, 0, 0, 1, 0, 0, 0x00, 0x57]);
    expectV6(decode(LINK_ETHERNET, eth({ etherType: 0x8864 }, Buffer.concat([pppoe, ip6pkt]))).pkt);
  });

  test('tunnels nested beyond the depth limit are not followed', () => {
    let p: Buffer = ip4pkt;
    for (let i = 0; i < 10; i++) p = ipv4({ src: '10.9.9.9', dst: '10.9.9.8', proto: IP_IPIP }, p);
    const r = decode(LINK_RAW, p);
    expect(r.ok).toBe(false);
    expect(r.decoder.stats.malformed).toBe(1);
    let q: Buffer = ip4pkt;
    for (let i = 0; i < 5; i++) q = ipv4({ src: '10.9.9.9', dst: '10.9.9.8', proto: IP_IPIP }, q);
    expectV4(decode(LINK_RAW, q).pkt);
  });

  test('GRE header flags that claim more than the packet holds are malformed', () => {
    const r = decode(LINK_ETHERNET, outer(IP_GRE, Buffer.from([0xb0, 0x00, 0x08, 0x00])));
    expect(r.ok).toBe(false);
    expect(r.decoder.stats.malformed).toBe(1);
  });
});

describe('link types the decoder cannot read', () => {
  test('are reported once each, by name where known; their frames are skipped', () => {
    const d = new Decoder();
    const seen: string[] = [];
    d.onUnsupportedLinkType = (linkType) => seen.push(unsupportedLinkTypeMessage(linkType));
    const p = new Packet();
    for (const linkType of [105, 105, 147, 105]) expect(d.decode(linkType, Buffer.alloc(64), p)).toBe(false);
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatch(/^link type 105 \(IEEE 802\.11\) is not supported: its frames are skipped \(supported: Ethernet/);
    expect(seen[1]).toMatch(/^link type 147 \(user-defined \(DLT_USER0\)\)/);
    expect(d.stats.nonIp).toBe(4);
  });
});
