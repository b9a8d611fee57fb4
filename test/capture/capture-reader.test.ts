import { CaptureFormatError, CaptureReader, type RawFrame } from '../../src/capture/capture-reader.js';
import {
  DEFAULT_T0_US, LINK_ETHERNET, LINK_RAW, LINK_SLL2, PcapngWriter, chunks, pcapFile, rng, tcpFrame, udpFrame,
} from '../helpers/packets.js';

interface Seen {
  frame: number;
  tsUs: number;
  linkType: number;
  interfaceId: number;
  data: string;
  origLen: number;
}

interface ReadResult {
  frames: Seen[];
  secrets: { type: number; data: string }[];
  error: unknown;
}

/** Feeds `bytes` in chunks of `chunkSize` (or whole), then ends; collects frames (copied) and the first error. */
function read(bytes: Buffer, chunkSize = bytes.length || 1): ReadResult {
  const frames: Seen[] = [];
  const secrets: { type: number; data: string }[] = [];
  const reader = new CaptureReader(
    (f: RawFrame) => frames.push({ frame: f.frame, tsUs: f.tsUs, linkType: f.linkType, interfaceId: f.interfaceId, data: f.data.toString('hex'), origLen: f.origLen }),
    (type, data) => secrets.push({ type, data: data.toString('latin1') }),
  );
  let error: unknown = null;
  try {
    for (const c of chunks(bytes, chunkSize)) reader.push(c);
    reader.end();
  } catch (err) {
    error = err;
  }
  return { frames, secrets, error };
}

function expectFormatError(error: unknown, offset: number, words: RegExp): void {
  expect(error).toBeInstanceOf(CaptureFormatError);
  const e = error as CaptureFormatError;
  expect(e.offset).toBe(offset);
  expect(e.message).toMatch(words);
  expect(e.message).toContain(`at byte offset ${offset}`);
  // One line a person can act on.
  expect(e.message).not.toContain('\n');
}

const frameA = tcpFrame({ sport: 40000, dport: 443, flags: 0x02, seq: 1 });
const frameB = tcpFrame({ sport: 443, dport: 40000, flags: 0x12, seq: 77, ack: 2, src: '10.0.0.2', dst: '10.0.0.1' });
const frameC = udpFrame({ sport: 5353, dport: 53, payload: Buffer.from('odd length payload!') });
const three = [frameA, frameB, frameC];

describe('pcap', () => {
  const cases: [string, { bigEndian: boolean; nano: boolean }][] = [
    ['little-endian, microseconds', { bigEndian: false, nano: false }],
    ['big-endian, microseconds', { bigEndian: true, nano: false }],
    ['little-endian, nanoseconds', { bigEndian: false, nano: true }],
    ['big-endian, nanoseconds', { bigEndian: true, nano: true }],
  ];

  test.each(cases)('%s: frames, timestamps, lengths, link type', (_name, opts) => {
    const file = pcapFile([
      { data: frameA, tsUs: DEFAULT_T0_US + 1 },
      { data: frameB, tsUs: DEFAULT_T0_US + 999_999, origLen: 1500 },
      { data: frameC, tsUs: DEFAULT_T0_US + 5_000_123 },
    ], { ...opts, linkType: LINK_SLL2 });
    const r = read(file);
    expect(r.error).toBeNull();
    expect(r.frames).toEqual([
      { frame: 1, tsUs: DEFAULT_T0_US + 1, linkType: LINK_SLL2, interfaceId: 0, data: frameA.toString('hex'), origLen: frameA.length },
      { frame: 2, tsUs: DEFAULT_T0_US + 999_999, linkType: LINK_SLL2, interfaceId: 0, data: frameB.toString('hex'), origLen: 1500 },
      { frame: 3, tsUs: DEFAULT_T0_US + 5_000_123, linkType: LINK_SLL2, interfaceId: 0, data: frameC.toString('hex'), origLen: frameC.length },
    ]);
  });

  test('nanosecond fractions are converted to microseconds (a double holds epoch µs to ~0.25 µs)', () => {
    const file = pcapFile([{ data: frameA }], { nano: true });
    // Patch the fraction to 123456789 ns.
    file.writeUInt32LE(123_456_789, 24 + 4);
    const r = read(file);
    expect(r.frames[0].tsUs - Math.floor(DEFAULT_T0_US / 1e6) * 1e6).toBeCloseTo(123_456.789, 0);
  });

  test('the FCS/flags bits of the link-type field are ignored', () => {
    const file = pcapFile([{ data: frameA }], { linkType: LINK_ETHERNET });
    file.writeUInt32LE(0x10000000 | LINK_ETHERNET, 20);
    expect(read(file).frames[0].linkType).toBe(LINK_ETHERNET);
  });

  test('a header with no records is a valid empty capture', () => {
    const r = read(pcapFile([]));
    expect(r.error).toBeNull();
    expect(r.frames).toEqual([]);
  });

  test('a zero-length record is a frame with no bytes', () => {
    const r = read(pcapFile([{ data: Buffer.alloc(0) }, { data: frameA }]));
    expect(r.error).toBeNull();
    expect(r.frames.map((f) => f.data.length)).toEqual([0, frameA.length * 2]);
  });
});

/** Two sections: a little-endian one with three interfaces, then a big-endian one with its own. */
function twoSectionCapture(): { bytes: Buffer; expected: Omit<Seen, 'frame'>[] } {
  const le = new PcapngWriter(false)
    .shb([[4, Buffer.from('hand-built by test/helpers/packets.ts')]])
    .idb(LINK_ETHERNET, { name: 'eth0' }) // default resolution: microseconds
    .idb(LINK_RAW, { tsresol: 9, snapLen: 65535 }) // nanoseconds
    .idb(LINK_ETHERNET, { tsresol: 0x80 | 20 }) // 2^-20 s
    .nrb([['10.0.0.2', 'server.example']])
    .epb(0, DEFAULT_T0_US + 10, frameA, frameA.length, 'first')
    .epb(1, BigInt(DEFAULT_T0_US + 20) * 1000n + 500n, frameC.subarray(14)) // raw IP
    .epb(2, BigInt(Math.round(((DEFAULT_T0_US + 30) / 1e6) * 2 ** 20)), frameB)
    .unknown(0x00000bad, Buffer.from('12345678'))
    .dsb(0x544c534b, Buffer.from('CLIENT_RANDOM 00 11\n'))
    .spb(frameC);
  const be = new PcapngWriter(true)
    .shb()
    .idb(LINK_SLL2, { tsresol: 6 })
    .epb(0, DEFAULT_T0_US + 40, frameB, 2000);
  const t2 = Math.round(((DEFAULT_T0_US + 30) / 1e6) * 2 ** 20) / 2 ** 20 * 1e6;
  return {
    bytes: Buffer.concat([le.toBuffer(), be.toBuffer()]),
    expected: [
      { tsUs: DEFAULT_T0_US + 10, linkType: LINK_ETHERNET, interfaceId: 0, data: frameA.toString('hex'), origLen: frameA.length },
      { tsUs: DEFAULT_T0_US + 20.5, linkType: LINK_RAW, interfaceId: 1, data: frameC.subarray(14).toString('hex'), origLen: frameC.length - 14 },
      { tsUs: t2, linkType: LINK_ETHERNET, interfaceId: 2, data: frameB.toString('hex'), origLen: frameB.length },
      // SPBs have no timestamp and belong to interface 0.
      { tsUs: 0, linkType: LINK_ETHERNET, interfaceId: 0, data: frameC.toString('hex'), origLen: frameC.length },
      { tsUs: DEFAULT_T0_US + 40, linkType: LINK_SLL2, interfaceId: 0, data: frameB.toString('hex'), origLen: 2000 },
    ],
  };
}

describe('pcapng', () => {
  test('SHB, IDBs with if_tsresol, EPB, SPB, NRB, DSB, unknown blocks, and a second big-endian section', () => {
    const { bytes, expected } = twoSectionCapture();
    const r = read(bytes);
    expect(r.error).toBeNull();
    expect(r.frames.map(({ frame, ...rest }) => rest).map((f) => ({ ...f, tsUs: Math.round(f.tsUs * 1000) / 1000 })))
      .toEqual(expected.map((f) => ({ ...f, tsUs: Math.round(f.tsUs * 1000) / 1000 })));
    expect(r.frames.map((f) => f.frame)).toEqual([1, 2, 3, 4, 5]);
    expect(r.secrets).toEqual([{ type: 0x544c534b, data: 'CLIENT_RANDOM 00 11\n' }]);
  });

  test.each([false, true])('big-endian=%s single section', (bigEndian) => {
    const bytes = new PcapngWriter(bigEndian).shb().idb(LINK_ETHERNET).epb(0, 1_000_000, frameA).epb(0, 2_000_000, frameB).toBuffer();
    const r = read(bytes);
    expect(r.error).toBeNull();
    expect(r.frames.map((f) => [f.tsUs, f.data])).toEqual([[1_000_000, frameA.toString('hex')], [2_000_000, frameB.toString('hex')]]);
  });

  test('if_tsoffset (seconds) is added to every timestamp of the interface', () => {
    const bytes = new PcapngWriter().shb().idb(LINK_ETHERNET, { tsoffsetSec: 1_700_000_000 }).epb(0, 1_500_000, frameA).toBuffer();
    expect(read(bytes).frames[0].tsUs).toBe(1_700_000_000 * 1e6 + 1_500_000);
  });

  test('an SPB is cut to the interface snap length', () => {
    const bytes = new PcapngWriter().shb().idb(LINK_ETHERNET, { snapLen: 20 }).spb(frameA).toBuffer();
    const r = read(bytes);
    expect(r.frames[0].data).toBe(frameA.subarray(0, 20).toString('hex'));
    expect(r.frames[0].origLen).toBe(frameA.length);
  });

  test('a new section forgets the interfaces of the previous one', () => {
    const bytes = Buffer.concat([
      new PcapngWriter().shb().idb(LINK_ETHERNET).idb(LINK_ETHERNET).epb(1, 1, frameA).toBuffer(),
      new PcapngWriter(true).shb().idb(LINK_RAW).epb(1, 2, frameB).toBuffer(),
    ]);
    const r = read(bytes);
    expect(r.frames).toHaveLength(1);
    expectFormatError(r.error, bytes.length - (12 + 20 + frameB.length + 2), /unknown interface 1/);
  });
});

describe('arbitrary chunking', () => {
  const captures: [string, Buffer][] = [
    ['pcap LE', pcapFile(three.map((data) => ({ data })))],
    ['pcap BE ns', pcapFile(three.map((data) => ({ data })), { bigEndian: true, nano: true })],
    ['pcapng two sections', twoSectionCapture().bytes],
  ];

  test.each(captures)('%s: every chunk size gives identical frames', (_name, bytes) => {
    const whole = read(bytes);
    expect(whole.error).toBeNull();
    expect(whole.frames.length).toBeGreaterThan(2);
    for (const size of [1, 2, 3, 5, 7, 11, 16, 23, 24, 25, 64, 100, 1000]) {
      const r = read(bytes, size);
      expect({ size, ...r }).toEqual({ size, ...whole });
    }
  });

  test('random chunk boundaries give identical frames', () => {
    const bytes = twoSectionCapture().bytes;
    const whole = read(bytes);
    const rand = rng(7);
    for (let trial = 0; trial < 50; trial++) {
      const frames: string[] = [];
      const reader = new CaptureReader((f) => frames.push(f.data.toString('hex')));
      for (let off = 0; off < bytes.length;) {
        const n = 1 + Math.floor(rand() * 80);
        reader.push(bytes.subarray(off, off + n));
        off += n;
      }
      reader.end();
      expect(frames).toEqual(whole.frames.map((f) => f.data));
    }
  });

  test('a frame view stays valid for the callback even when the record straddles chunks', () => {
    const bytes = pcapFile([{ data: frameA }]);
    const seen: string[] = [];
    const reader = new CaptureReader((f) => seen.push(f.data.toString('hex')));
    const mid = 24 + 16 + 10;
    const first = Buffer.from(bytes.subarray(0, mid));
    reader.push(first);
    first.fill(0xee); // the reader must have copied the unconsumed tail
    reader.push(Buffer.from(bytes.subarray(mid)));
    reader.end();
    expect(seen).toEqual([frameA.toString('hex')]);
  });
});

describe('damage: frames up to the damage, then a CaptureFormatError naming the offset', () => {
  const pcap = pcapFile(three.map((data) => ({ data })));
  const recordOffsets = [24, 24 + 16 + frameA.length, 24 + 32 + frameA.length + frameB.length];

  test('empty input', () => {
    const r = read(Buffer.alloc(0));
    expectFormatError(r.error, 0, /empty capture/);
  });

  test('unknown magic', () => {
    const r = read(Buffer.from('this is not a capture file at all'));
    expectFormatError(r.error, 0, /not a pcap or pcapng capture/);
  });

  test.each([1, 3, 10, 23])('pcap header cut at %i bytes', (n) => {
    const r = read(pcap.subarray(0, n));
    expect(r.frames).toEqual([]);
    expect(r.error).toBeInstanceOf(CaptureFormatError);
    expect((r.error as Error).message).toMatch(/truncated|empty|not a pcap/);
  });

  test.each([
    ['inside the second record header', recordOffsets[1] + 5, 1, recordOffsets[1]],
    ['inside the second record data', recordOffsets[1] + 16 + 10, 1, recordOffsets[1]],
    ['inside the third record data', recordOffsets[2] + 20, 2, recordOffsets[2]],
  ])('pcap truncated %s', (_what, cut, framesBefore, offset) => {
    for (const size of [1, 9, 4096]) {
      const r = read(pcap.subarray(0, cut), size);
      expect(r.frames).toHaveLength(framesBefore);
      expectFormatError(r.error, offset, /truncated record/);
    }
  });

  test('pcap record with an absurd captured length', () => {
    const bad = Buffer.from(pcap);
    bad.writeUInt32LE(0x7fffffff, recordOffsets[2] + 8);
    for (const size of [1, 13, bad.length]) {
      const r = read(bad, size);
      expect(r.frames).toHaveLength(2);
      expectFormatError(r.error, recordOffsets[2], /corrupt pcap record header \(captured length 2147483647\)/);
    }
  });

  test('a reader that failed keeps failing with the same error', () => {
    const reader = new CaptureReader(() => {});
    expect(() => reader.push(Buffer.from('garbage!'))).toThrow(CaptureFormatError);
    expect(() => reader.push(pcap)).toThrow(/unknown magic number/);
    expect(() => reader.end()).toThrow(/unknown magic number/);
  });

  const w = () => new PcapngWriter().shb().idb(LINK_ETHERNET);
  const prefix = w().toBuffer();
  const good = w().epb(0, 1, frameA).toBuffer();
  const goodBlockLen = good.length - prefix.length;

  test('pcapng block truncated', () => {
    const bytes = w().epb(0, 1, frameA).epb(0, 2, frameB).toBuffer();
    const r = read(bytes.subarray(0, bytes.length - 7));
    expect(r.frames).toHaveLength(1);
    expectFormatError(r.error, prefix.length + goodBlockLen, /truncated record/);
  });

  test.each([
    ['length below 12', (b: Buffer, at: number) => b.writeUInt32LE(8, at + 4), /length 8\)/],
    ['length not a multiple of 4', (b: Buffer, at: number) => b.writeUInt32LE(goodBlockLen + 2, at + 4), /corrupt pcapng block/],
    ['length absurd', (b: Buffer, at: number) => b.writeUInt32LE(0xfffffff0, at + 4), /corrupt pcapng block/],
    ['trailing length differs', (b: Buffer, at: number) => b.writeUInt32LE(goodBlockLen + 4, at + goodBlockLen - 4), /trailing length mismatch/],
    ['unknown interface', (b: Buffer, at: number) => b.writeUInt32LE(5, at + 8), /unknown interface 5/],
    ['captured length beyond block', (b: Buffer, at: number) => b.writeUInt32LE(frameB.length + 100, at + 20), /captured length exceeds block/],
  ])('pcapng EPB with %s', (_what, damage, words) => {
    const bytes = w().epb(0, 1, frameA).epb(0, 2, frameB).epb(0, 3, frameC).toBuffer();
    const at = prefix.length + goodBlockLen;
    damage(bytes, at);
    for (const size of [1, 17, bytes.length]) {
      const r = read(bytes, size);
      expect(r.frames).toHaveLength(1);
      expectFormatError(r.error, at, words);
    }
  });

  test('pcapng section header with a bad byte-order magic', () => {
    const bytes = Buffer.concat([good, new PcapngWriter().shb().toBuffer()]);
    bytes.writeUInt32LE(0xdeadbeef, good.length + 8);
    const r = read(bytes);
    expect(r.frames).toHaveLength(1);
    expectFormatError(r.error, good.length, /bad byte-order magic/);
  });

  test('pcapng packet before any interface', () => {
    const bytes = new PcapngWriter().shb().spb(frameA).toBuffer();
    const shbLen = new PcapngWriter().shb().toBuffer().length;
    expectFormatError(read(bytes).error, shbLen, /simple packet block before any interface block/);
    const epb = new PcapngWriter().shb().epb(0, 0, frameA).toBuffer();
    expectFormatError(read(epb).error, shbLen, /unknown interface 0/);
  });

  test('pcapng interface and secrets blocks too short for their fields', () => {
    const pw = new PcapngWriter();
    const shb = pw.shb().toBuffer();
    const idb = Buffer.concat([shb, pw.block(1, Buffer.alloc(4))]);
    expectFormatError(read(idb).error, shb.length, /corrupt pcapng interface block/);
    const dsbShort = Buffer.concat([shb, pw.block(10, Buffer.alloc(4))]);
    expectFormatError(read(dsbShort).error, shb.length, /corrupt pcapng decryption secrets block/);
    const dsbLong = new PcapngWriter().shb().dsb(0x544c534b, Buffer.from('abcd')).toBuffer();
    dsbLong.writeUInt32LE(1000, shb.length + 12);
    expectFormatError(read(dsbLong).error, shb.length, /decryption secrets block \(length\)/);
  });

  test('chunking never changes the outcome, damaged or not: same frames, same error, same offset', () => {
    const captures = [pcap, twoSectionCapture().bytes, pcapFile(three.map((data) => ({ data })), { bigEndian: true, nano: true })];
    const rand = rng(777);
    const summary = (r: ReadResult) => ({ frames: r.frames, error: r.error === null ? null : (r.error as Error).message });
    for (let trial = 0; trial < 1500; trial++) {
      const src = captures[trial % captures.length];
      const bytes = Buffer.from(src.subarray(0, rand() < 0.3 ? Math.floor(rand() * src.length) : src.length));
      const flips = Math.floor(rand() * 4);
      for (let i = 0; i < flips && bytes.length > 0; i++) bytes[Math.floor(rand() * bytes.length)] ^= 1 << Math.floor(rand() * 8);
      if (rand() < 0.3 && bytes.length > 40) {
        // A length field of some record or block set to a small or huge value.
        const at = 4 * Math.floor(rand() * (bytes.length / 4 - 1));
        bytes.writeUInt32LE([0, 8, 12, 13, 0xffff, 0xffffffff][Math.floor(rand() * 6)], at);
      }
      const whole = summary(read(bytes));
      for (const size of [1, 1 + Math.floor(rand() * 40)]) {
        expect({ trial, size, ...summary(read(bytes, size)) }).toEqual({ trial, size, ...whole });
      }
    }
  });

  test('random damage to a valid capture only ever ends in a CaptureFormatError', () => {
    const captures = [pcap, twoSectionCapture().bytes, pcapFile(three.map((data) => ({ data })), { bigEndian: true })];
    const rand = rng(20240101);
    let failures = 0;
    for (let trial = 0; trial < 3000; trial++) {
      const src = captures[trial % captures.length];
      const bytes = Buffer.from(src.subarray(0, rand() < 0.3 ? Math.floor(rand() * src.length) : src.length));
      const flips = 1 + Math.floor(rand() * 4);
      for (let i = 0; i < flips && bytes.length > 0; i++) bytes[Math.floor(rand() * bytes.length)] ^= 1 << Math.floor(rand() * 8);
      const r = read(bytes, 1 + Math.floor(rand() * 64));
      if (r.error !== null) {
        failures++;
        expect(r.error).toBeInstanceOf(CaptureFormatError);
        const off = (r.error as CaptureFormatError).offset;
        expect(off).toBeGreaterThanOrEqual(0);
        expect(off).toBeLessThanOrEqual(bytes.length);
      }
    }
    expect(failures).toBeGreaterThan(100);
  });
});
