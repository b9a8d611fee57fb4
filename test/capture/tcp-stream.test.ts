import { DEFAULT_STREAM_LIMITS, ReassemblyBudget, SEGMENT_OVERHEAD, TcpStream, type StreamLimits } from '../../src/capture/tcp-stream.js';
import { rng } from '../helpers/packets.js';

interface Delivery { text: string; gap: boolean }

/** A stream with a sink that records what it delivers (copied: the sink's bytes are views). */
function stream(limits: StreamLimits = DEFAULT_STREAM_LIMITS) {
  const out: Delivery[] = [];
  const s = new TcpStream(limits);
  const push = (seq: number, text: string | Buffer) => s.push(seq >>> 0, typeof text === 'string' ? Buffer.from(text, 'latin1') : text, (b, gap) => out.push({ text: b.toString('latin1'), gap }));
  const text = () => out.map((d) => d.text).join('');
  return { s, out, push, text };
}

describe('TCP reassembly', () => {
  test('after a SYN, data starts at ISN + 1 and is delivered in order', () => {
    const { s, push, text, out } = stream();
    s.setInitialSequence(1000);
    push(1001, 'Hello, ');
    push(1008, 'world');
    expect(text()).toBe('Hello, world');
    expect(out.every((d) => !d.gap)).toBe(true);
    expect(s.delivered).toBe(12);
  });

  test('a second SYN (retransmitted or with another ISN) does not move the stream', () => {
    const { s, push, text } = stream();
    s.setInitialSequence(1000);
    push(1001, 'abc');
    s.setInitialSequence(5000);
    push(1004, 'def');
    expect(text()).toBe('abcdef');
  });

  test('without a SYN, the first segment seen starts the stream', () => {
    const { push, text } = stream();
    push(777, 'mid-');
    push(781, 'stream');
    expect(text()).toBe('mid-stream');
  });

  test('a payload split over many segments comes out whole', () => {
    const msg = 'x'.repeat(50) + 'ClientHello' + 'y'.repeat(3000);
    const { s, push, text } = stream();
    s.setInitialSequence(0);
    let seq = 1;
    for (const size of [1, 2, 5, 100, 1448, 1448, 100000]) {
      const part = msg.slice(seq - 1, seq - 1 + size);
      if (part.length === 0) break;
      push(seq, part);
      seq += part.length;
    }
    expect(text()).toBe(msg);
  });

  test('an exact retransmission delivers nothing', () => {
    const { s, push, text } = stream();
    s.setInitialSequence(0);
    push(1, 'abcd');
    push(1, 'abcd');
    push(5, 'efgh');
    push(1, 'abcd');
    expect(text()).toBe('abcdefgh');
  });

  test('a retransmission with different content: the first copy wins', () => {
    const { s, push, text } = stream();
    s.setInitialSequence(0);
    push(1, 'GOOD');
    push(1, 'EVIL');
    push(3, 'ILxx'); // overlaps 2 delivered bytes: only the new tail counts
    expect(text()).toBe('GOODxx');
  });

  test('a retransmission waiting in the queue with different content: the first queued copy wins', () => {
    const { s, push, text } = stream();
    s.setInitialSequence(0);
    push(5, 'efgh');
    push(5, 'EFGH');
    push(1, 'abcd');
    expect(text()).toBe('abcdefgh');
  });

  test('out-of-order segments wait for the hole, then flow in order', () => {
    const { s, push, text, out } = stream();
    s.setInitialSequence(100);
    push(111, 'kl');
    push(106, 'fghij');
    push(104, 'de');
    expect(text()).toBe('');
    expect(s.bufferedBytes).toBe(9);
    push(101, 'abc');
    expect(text()).toBe('abcdefghijkl');
    expect(out.some((d) => d.gap)).toBe(false);
    expect(s.bufferedBytes).toBe(0);
  });

  test('queued segments overlapping each other and the delivered bytes', () => {
    const { s, push, text } = stream();
    s.setInitialSequence(0);
    push(3, 'cdefg');
    push(5, 'EFGHIJ');
    push(1, 'abcd');
    expect(text()).toBe('abcdefgHIJ');
  });

  test('sequence numbers wrap around 2^32', () => {
    const { s, push, text } = stream();
    s.setInitialSequence(0xfffffffa);
    push(0xfffffffb, 'abc');
    push(0x00000001, 'ghij'); // out of order, after the wrap
    push(0xfffffffe, 'def');
    expect(text()).toBe('abcdefghij');
  });

  test('empty segments are ignored', () => {
    const { s, push, text } = stream();
    s.setInitialSequence(0);
    push(500, '');
    push(1, 'a');
    expect(text()).toBe('a');
  });

  test('a hole that never fills: once the queue is full the stream skips it and says so', () => {
    const limits = { ...DEFAULT_STREAM_LIMITS, maxPendingSegments: 4, maxPendingBytes: 1 << 20 };
    const { s, push, out, text } = stream(limits);
    s.setInitialSequence(0);
    push(1, 'ab');
    // Byte 3 never arrives.
    push(4, 'd');
    push(5, 'e');
    push(6, 'f');
    push(7, 'g');
    expect(text()).toBe('ab');
    push(8, 'h');
    expect(text()).toBe('abdefgh');
    expect(out.filter((d) => d.gap).map((d) => d.text)).toEqual(['d']);
    expect(s.gaps).toBe(1);
    expect(s.bufferedBytes).toBe(0);
  });

  test('the byte budget bounds the queue too', () => {
    const limits = { ...DEFAULT_STREAM_LIMITS, maxPendingSegments: 1000, maxPendingBytes: 100 };
    const { s, push, out } = stream(limits);
    s.setInitialSequence(0);
    for (let i = 0; i < 50; i++) {
      push(1000 + i * 30, Buffer.alloc(30, 65 + (i % 26)));
      expect(s.bufferedBytes).toBeLessThanOrEqual(100);
    }
    expect(s.gaps).toBeGreaterThan(0);
    expect(out[0].gap).toBe(true);
  });

  test('a segment far before the queued ones when the queue overflows is delivered as the new start', () => {
    const limits = { ...DEFAULT_STREAM_LIMITS, maxPendingSegments: 2, maxPendingBytes: 1 << 20 };
    const { s, push, text, out } = stream(limits);
    s.setInitialSequence(0);
    push(101, 'X');
    push(201, 'Y');
    push(51, 'Z'); // queue full and this one precedes both: delivered with a gap, the queue waits
    expect(out[0]).toEqual({ text: 'Z', gap: true });
    expect(text()).toBe('Z');
  });

  test('random segmentation, reordering and duplication within the budget reproduce the stream exactly', () => {
    const rand = rng(42);
    for (let trial = 0; trial < 200; trial++) {
      const len = 1 + Math.floor(rand() * 5000);
      const data = Buffer.alloc(len);
      for (let i = 0; i < len; i++) data[i] = Math.floor(rand() * 256);
      const isn = Math.floor(rand() * 2 ** 32);
      const segs: [number, Buffer][] = [];
      for (let off = 0; off < len;) {
        const n = 1 + Math.floor(rand() * 700);
        segs.push([(isn + 1 + off) >>> 0, data.subarray(off, off + n)]);
        if (rand() < 0.2) segs.push([(isn + 1 + off) >>> 0, data.subarray(off, off + n)]);
        off += n;
      }
      // Local shuffles (a segment moves at most a few places), like real reordering.
      for (let i = 0; i < segs.length; i++) {
        const j = Math.min(segs.length - 1, i + Math.floor(rand() * 4));
        [segs[i], segs[j]] = [segs[j], segs[i]];
      }
      const { s, out } = stream();
      s.setInitialSequence(isn);
      const got: Buffer[] = [];
      for (const [seq, seg] of segs) s.push(seq, seg, (b) => got.push(Buffer.from(b)));
      expect(Buffer.concat(got).equals(data)).toBe(true);
      expect(s.gaps).toBe(0);
      expect(out).toEqual([]);
    }
  });

  test('random hostile input never delivers a byte twice nor exceeds the budget', () => {
    const rand = rng(99);
    const limits = { ...DEFAULT_STREAM_LIMITS, maxPendingSegments: 8, maxPendingBytes: 4000 };
    const junk = Buffer.alloc(3000, 0x5a);
    for (let trial = 0; trial < 200; trial++) {
      const s = new TcpStream(limits);
      if (rand() < 0.5) s.setInitialSequence(Math.floor(rand() * 2 ** 32));
      let sunk = 0;
      let peak = 0;
      for (let i = 0; i < 200; i++) {
        const seq = Math.floor(rand() * 2 ** 32);
        s.push(seq, junk.subarray(0, Math.floor(rand() * 3000)), (b) => { sunk += b.length; });
        peak = Math.max(peak, s.bufferedBytes);
      }
      expect(peak).toBeLessThanOrEqual(limits.maxPendingBytes);
      expect(sunk).toBe(s.delivered);
    }
  });

  describe('a budget shared by many streams', () => {
    const sink = () => {};

    test('streams together never hold more than the budget; the overflowing one skips its hole', () => {
      const budget = new ReassemblyBudget(10 * (1000 + SEGMENT_OVERHEAD));
      const streams = Array.from({ length: 5 }, () => new TcpStream(DEFAULT_STREAM_LIMITS, budget));
      streams.forEach((s) => s.setInitialSequence(0));
      // Each stream queues 3 segments after a hole at byte 1: 15 segments wanted, 10 fit.
      let gapDeliveries = 0;
      for (let k = 0; k < 3; k++) {
        for (const s of streams) {
          s.push(1001 + k * 1000, Buffer.alloc(1000, 0x41), (_b, gap) => { if (gap) gapDeliveries++; });
          expect(budget.used).toBeLessThanOrEqual(budget.maxBytes);
        }
      }
      const held = streams.reduce((n, s) => n + s.bufferedBytes, 0);
      expect(budget.used).toBe(held + (held / 1000) * SEGMENT_OVERHEAD);
      expect(gapDeliveries).toBeGreaterThan(0);
    });

    test('tiny segments are charged their overhead, so many of them cannot hide in the budget', () => {
      const budget = new ReassemblyBudget(100 * (1 + SEGMENT_OVERHEAD));
      const streams = Array.from({ length: 50 }, () => new TcpStream(DEFAULT_STREAM_LIMITS, budget));
      for (const s of streams) {
        s.setInitialSequence(0);
        for (let k = 0; k < 60; k++) s.push(10 + k * 2, Buffer.of(k), sink);
      }
      const segments = Math.round(budget.used / (1 + SEGMENT_OVERHEAD));
      expect(segments).toBeLessThanOrEqual(100);
    });

    test('delivery and release give the bytes back', () => {
      const budget = new ReassemblyBudget(1 << 20);
      const a = new TcpStream(DEFAULT_STREAM_LIMITS, budget);
      const b = new TcpStream(DEFAULT_STREAM_LIMITS, budget);
      a.setInitialSequence(0);
      b.setInitialSequence(0);
      a.push(11, Buffer.alloc(10), sink);
      b.push(11, Buffer.alloc(20), sink);
      b.push(31, Buffer.alloc(5), sink);
      expect(budget.used).toBe(35 + 3 * SEGMENT_OVERHEAD);
      a.push(1, Buffer.alloc(10), sink); // fills a's hole: its queue drains
      expect(budget.used).toBe(25 + 2 * SEGMENT_OVERHEAD);
      b.release();
      expect(budget.used).toBe(0);
      expect(b.bufferedBytes).toBe(0);
      b.release();
      expect(budget.used).toBe(0);
    });
  });
});
