import { Decoder } from '../../src/capture/decode.js';
import { DEFAULT_DEFRAG_LIMITS, Ipv4Defragmenter, type DefragLimits } from '../../src/capture/ipv4-defrag.js';
import { Packet } from '../../src/capture/packet.js';
import { IP_TCP, IP_UDP, LINK_RAW, fragmentIpv4, ipv4, tcp, udp } from '../helpers/packets.js';

const body = Buffer.from(Array.from({ length: 200 }, (_, i) => (i * 7) & 0xff));
const whole = ipv4({ src: '10.1.1.1', dst: '10.2.2.2', proto: IP_UDP, id: 0x4242 }, udp(5000, 6000, body));

/** Feeds fragments (each a whole IPv4 packet) and returns what each add returned. */
function feed(d: Ipv4Defragmenter, frags: Buffer[], tsUs = 0, step = 0): (Buffer | null)[] {
  return frags.map((f, i) => d.add(f, 0, (f[0] & 0x0f) * 4, f.readUInt16BE(2), tsUs + i * step));
}

/** The reassembled datagram as the defragmenter returns it: fragment fields cleared, length fixed. */
function expectWhole(out: Buffer | null, original = whole): void {
  expect(out).not.toBeNull();
  const o = out as Buffer;
  expect(o.readUInt16BE(2)).toBe(original.length);
  expect(o.readUInt16BE(6)).toBe(0);
  expect(o.subarray(20)).toEqual(original.subarray(20));
  expect(o.subarray(12, 20)).toEqual(original.subarray(12, 20));
}

function fragment(opts: { offset: number; mf: boolean; data: Buffer; id?: number; src?: string }): Buffer {
  return ipv4({ src: opts.src ?? '10.1.1.1', dst: '10.2.2.2', proto: IP_UDP, id: opts.id ?? 0x4242, fragOffset: opts.offset, mf: opts.mf }, opts.data);
}

describe('IPv4 reassembly', () => {
  test('fragments in order', () => {
    const frags = fragmentIpv4(whole, 64);
    expect(frags).toHaveLength(4);
    const d = new Ipv4Defragmenter();
    const out = feed(d, frags);
    expect(out.slice(0, 3)).toEqual([null, null, null]);
    expectWhole(out[3]);
    expect(d.pending).toBe(0);
  });

  test.each([
    ['reversed', [3, 2, 1, 0]],
    ['last first', [3, 0, 1, 2]],
    ['first last', [1, 2, 3, 0]],
    ['shuffled', [2, 0, 3, 1]],
  ])('fragments out of order (%s)', (_name, order) => {
    const frags = fragmentIpv4(whole, 64);
    const d = new Ipv4Defragmenter();
    const out = feed(d, order.map((i) => frags[i]));
    expect(out.slice(0, 3)).toEqual([null, null, null]);
    expectWhole(out[3]);
  });

  test('duplicated fragments are harmless', () => {
    const frags = fragmentIpv4(whole, 64);
    const d = new Ipv4Defragmenter();
    const out = feed(d, [frags[0], frags[0], frags[1], frags[1], frags[2], frags[3]]);
    expectWhole(out[5]);
    expect(d.pending).toBe(0);
  });

  test('overlapping fragments: the copy that arrived first wins', () => {
    const a = Buffer.alloc(16, 0xaa);
    const b = Buffer.alloc(16, 0xbb);
    // b (bytes 8..24, last) arrives first, then a (bytes 0..16) overlaps it on 8..16.
    const d = new Ipv4Defragmenter();
    const out = feed(d, [fragment({ offset: 8, mf: false, data: b }), fragment({ offset: 0, mf: true, data: a })]);
    expect(out[1]?.subarray(20)).toEqual(Buffer.concat([Buffer.alloc(8, 0xaa), Buffer.alloc(16, 0xbb)]));
    // And the other way round.
    const d2 = new Ipv4Defragmenter();
    const out2 = feed(d2, [fragment({ offset: 0, mf: true, data: a }), fragment({ offset: 8, mf: false, data: b })]);
    expect(out2[1]?.subarray(20)).toEqual(Buffer.concat([Buffer.alloc(16, 0xaa), Buffer.alloc(8, 0xbb)]));
    // Same offset twice: the first copy wins.
    const d3 = new Ipv4Defragmenter();
    const out3 = feed(d3, [
      fragment({ offset: 0, mf: true, data: a }),
      fragment({ offset: 0, mf: true, data: b }),
      fragment({ offset: 16, mf: false, data: Buffer.alloc(8, 0xcc) }),
    ]);
    expect(out3[2]?.subarray(20)).toEqual(Buffer.concat([a, Buffer.alloc(8, 0xcc)]));
  });

  test('datagrams are told apart by source, destination, id and protocol', () => {
    const f1 = fragmentIpv4(whole, 104);
    const other = ipv4({ src: '10.1.1.9', dst: '10.2.2.2', proto: IP_UDP, id: 0x4242 }, udp(1, 2, Buffer.alloc(200, 3)));
    const f2 = fragmentIpv4(other, 104);
    const d = new Ipv4Defragmenter();
    const out = feed(d, [f1[0], f2[0], f2[1], f1[1]]);
    expect(out[0]).toBeNull();
    expect(out[1]).toBeNull();
    expectWhole(out[2], other);
    expectWhole(out[3]);
  });

  test('a datagram that never completes is given up after the timeout', () => {
    const limits: DefragLimits = { ...DEFAULT_DEFRAG_LIMITS, timeoutUs: 1e6 };
    const d = new Ipv4Defragmenter(limits);
    const frags = fragmentIpv4(whole, 64);
    feed(d, frags.slice(0, 2), 0);
    expect(d.pending).toBe(1);
    // The rest arrives too late: the early half is gone, so the datagram cannot complete.
    const late = feed(d, frags.slice(2), 2e6);
    expect(late).toEqual([null, null]);
    expect(d.dropped).toBe(1);
    // ...and the late half itself expires in turn.
    d.add(fragmentIpv4(ipv4({ src: '9.9.9.9', dst: '8.8.8.8', proto: IP_UDP }, Buffer.alloc(64)), 32)[0], 0, 20, 52, 10e6);
    expect(d.pending).toBe(1);
    expect(d.dropped).toBe(2);
  });

  test('the number of datagrams in progress is capped, oldest evicted first', () => {
    const d = new Ipv4Defragmenter({ ...DEFAULT_DEFRAG_LIMITS, maxDatagrams: 4 });
    for (let id = 1; id <= 10; id++) feed(d, [fragment({ offset: 0, mf: true, data: Buffer.alloc(8), id })], id);
    expect(d.pending).toBe(4);
    expect(d.dropped).toBe(6);
    // Datagrams 7..10 survive: completing 10 works, completing 1 does not.
    expect(d.add(...args(fragment({ offset: 8, mf: false, data: Buffer.alloc(8), id: 10 }), 11))).not.toBeNull();
    expect(d.add(...args(fragment({ offset: 8, mf: false, data: Buffer.alloc(8), id: 1 }), 12))).toBeNull();
  });

  test('buffered bytes are capped: old incomplete datagrams make room for new ones', () => {
    const d = new Ipv4Defragmenter({ ...DEFAULT_DEFRAG_LIMITS, maxBytes: 4096 });
    // Junk that never completes fills the budget...
    for (let id = 1; id <= 8; id++) feed(d, [fragment({ offset: 0, mf: true, data: Buffer.alloc(1000), id })], id);
    expect(d.pending).toBeLessThanOrEqual(4);
    // ...and a legitimate datagram still reassembles.
    const out = feed(d, fragmentIpv4(whole, 64), 100);
    expectWhole(out[3]);
  });

  test('a datagram longer than 65535 bytes is dropped', () => {
    const d = new Ipv4Defragmenter();
    expect(d.add(...args(fragment({ offset: 65528, mf: false, data: Buffer.alloc(16) }), 1))).toBeNull();
    expect(d.dropped).toBe(1);
  });

  test('a datagram whose header plus payload exceeds 65535 bytes is dropped, not thrown on', () => {
    // Payload ends exactly at 65535, so header + payload does not fit the 16-bit total length.
    const d = new Ipv4Defragmenter();
    const first = fragment({ offset: 0, mf: true, data: Buffer.alloc(32760, 1) });
    const second = fragment({ offset: 32760, mf: true, data: Buffer.alloc(32760, 2) });
    const last = fragment({ offset: 65520, mf: false, data: Buffer.alloc(15, 3) });
    let out: (Buffer | null)[] = [];
    expect(() => { out = feed(d, [first, second, last]); }).not.toThrow();
    expect(out[2]).toBeNull();
    expect(d.pending).toBe(0);
  });

  test('a flood of fragments for one datagram is bounded (count and work)', () => {
    const d = new Ipv4Defragmenter();
    // The first and the last fragment, then thousands of tiny fragments that never fill the hole at 8..16.
    d.add(...args(fragment({ offset: 0, mf: true, data: Buffer.alloc(8) }), 0));
    d.add(...args(fragment({ offset: 60000, mf: false, data: Buffer.alloc(8) }), 0));
    // Unbounded, every fragment re-sorts all the earlier ones: this loop would run for minutes.
    for (let i = 0; i < 20000; i++) {
      d.add(...args(fragment({ offset: 16 + (i % 7000) * 8, mf: true, data: Buffer.alloc(8) }), 0));
    }
    expect(d.dropped).toBeGreaterThan(0);
    expect(d.pending).toBeLessThanOrEqual(1);
  });
});

function args(f: Buffer, tsUs: number): [Buffer, number, number, number, number] {
  return [f, 0, (f[0] & 0x0f) * 4, f.readUInt16BE(2), tsUs];
}

describe('reassembly in the decoder', () => {
  test('a fragmented TCP segment decodes once, when complete', () => {
    const payload = Buffer.from('x'.repeat(300));
    const p = ipv4({ src: '10.1.1.1', dst: '10.2.2.2', proto: IP_TCP, id: 7 }, tcp({ sport: 1234, dport: 443, seq: 5 }, payload));
    const frags = fragmentIpv4(p, 96);
    const d = new Decoder();
    const pkt = new Packet();
    pkt.tsUs = 1;
    const results = [frags[2], frags[0], frags[3], frags[1]].map((f) => d.decode(LINK_RAW, f, pkt));
    expect(results).toEqual([false, false, false, true]);
    expect(pkt.srcPort).toBe(1234);
    expect(pkt.seq).toBe(5);
    expect(pkt.payload.toString()).toBe(payload.toString());
    expect(d.stats.fragments).toBe(4);
    expect(d.pendingFragments).toBe(0);
  });

  test('options only in the first fragment (Record Route is not copied): the datagram keeps its header length', () => {
    const segment = tcp({ sport: 40000, dport: 443, seq: 1000, flags: 0x02 });
    const recordRoute = Buffer.from([0x07, 0x07, 0x04, 0, 0, 0, 0]); // not copied into later fragments
    const first = ipv4({ src: '10.1.1.1', dst: '10.2.2.2', proto: IP_TCP, id: 78, mf: true, options: recordRoute }, segment.subarray(0, 16));
    const last = ipv4({ src: '10.1.1.1', dst: '10.2.2.2', proto: IP_TCP, id: 78, fragOffset: 16 }, segment.subarray(16));
    expect((first[0] & 0x0f) * 4).toBe(28);
    for (const order of [[first, last], [last, first]]) {
      const d = new Decoder();
      const pkt = new Packet();
      pkt.tsUs = 1;
      const results = order.map((f) => d.decode(LINK_RAW, f, pkt));
      expect(results).toEqual([false, true]);
      expect([pkt.srcPort, pkt.dstPort, pkt.seq]).toEqual([40000, 443, 1000]);
    }
  });

  test('a datagram stamped far ahead does not stop the expiry of those behind it', () => {
    const d = new Ipv4Defragmenter();
    const limits = DEFAULT_DEFRAG_LIMITS.timeoutUs;
    d.add(fragment({ offset: 0, mf: true, data: Buffer.alloc(16), id: 1 }), 0, 20, 36, 4e15); // year 2096
    d.add(fragment({ offset: 0, mf: true, data: Buffer.alloc(16), id: 2 }), 0, 20, 36, 1e6);
    expect(d.pending).toBe(1); // the one from the future is given up rather than left in the way
    d.add(fragment({ offset: 0, mf: true, data: Buffer.alloc(16), id: 3 }), 0, 20, 36, 1e6 + limits + 1);
    expect(d.pending).toBe(1); // and the one behind it expires on time
  });

  test('a snapped fragment is malformed (it cannot be reassembled)', () => {
    const frags = fragmentIpv4(whole, 64);
    const d = new Decoder();
    const pkt = new Packet();
    pkt.tsUs = 1;
    expect(d.decode(LINK_RAW, frags[0].subarray(0, 50), pkt)).toBe(false);
    expect(d.stats.malformed).toBe(1);
  });
});

describe('fragments that disagree with the datagram length', () => {
  test('a fragment lying beyond the last fragment\'s end does not block completion', () => {
    const d = new Ipv4Defragmenter();
    const out = feed(d, [
      fragment({ offset: 1000, mf: true, data: Buffer.alloc(16, 9) }),
      fragment({ offset: 0, mf: true, data: Buffer.alloc(16, 1) }),
      fragment({ offset: 16, mf: false, data: Buffer.alloc(8, 2) }),
    ]);
    expect(out[2]?.subarray(20)).toEqual(Buffer.concat([Buffer.alloc(16, 1), Buffer.alloc(8, 2)]));
  });
});
