/**
 * The parsers' shared budget: bytes held between packets over all flows stay under it, and a parser
 * refused a copy gives up on its flow instead of holding more.
 */
import { ParserMemory, parserMemory } from '../../src/fingerprint/parser-memory.js';
import { HandshakeReader, RecordReader, CT_HANDSHAKE } from '../../src/fingerprint/tls/records.js';
import { OrderedStream } from '../../src/fingerprint/quic/crypto-stream.js';

describe('ParserMemory', () => {
  test('charges what it hands out and refuses past its size', () => {
    const m = new ParserMemory(1000);
    const a = m.copy(Buffer.from('hello world'), 6);
    expect(a?.toString()).toBe('world');
    expect(m.used).toBe(5);
    expect(m.alloc(995)).not.toBeNull();
    expect(m.alloc(1)).toBeNull();
    expect(m.refusals).toBe(1);
    expect(m.concat(Buffer.from('a'), Buffer.from('b'))).toBeNull();
  });
});

describe('parsers under a full budget', () => {
  const saved = parserMemory.maxBytes;
  afterEach(() => { parserMemory.maxBytes = saved; });

  test('many TLS handshakes left unfinished hold no more than the budget; the ones refused stop', () => {
    parserMemory.maxBytes = parserMemory.used + 300 * 1024;
    const refusalsBefore = parserMemory.refusals;
    const start = parserMemory.used;
    const readers: { hs: HandshakeReader; rec: RecordReader }[] = [];
    // Each: one full record carrying the start of a 60 KB certificate message, then half a record.
    const body = Buffer.alloc(16000, 0x41);
    body[0] = 11; // Certificate
    body.writeUIntBE(60_000, 1, 3);
    const record = Buffer.concat([Buffer.from([CT_HANDSHAKE, 3, 3, 0x3e, 0x80]), body]);
    for (let i = 0; i < 100; i++) {
      const sink = { message: () => {}, record: (_d: number, _t: number, _v: number, b: Buffer, o: number, l: number) => hs.push(b, o, l) };
      const hs = new HandshakeReader(sink, 0);
      const rec = new RecordReader(sink, 0);
      rec.push(record);
      rec.push(record.subarray(0, 8000));
      readers.push({ hs, rec });
    }
    expect(parserMemory.used - start).toBeLessThanOrEqual(300 * 1024);
    expect(parserMemory.refusals).toBeGreaterThan(refusalsBefore);
    const stopped = readers.filter((r) => r.hs.dead || r.rec.dead).length;
    expect(stopped).toBeGreaterThan(80); // ~3 fit: each holds ~16 KB of message plus ~8 KB of record
    expect(readers.slice(0, 3).every((r) => !r.hs.dead && !r.rec.dead)).toBe(true);
  });

  test('QUIC CRYPTO data out of order is dropped, and its stream stops, when the budget is full', () => {
    parserMemory.maxBytes = parserMemory.used; // nothing more may be held
    const got: number[] = [];
    const s = new OrderedStream((_b, _o, l) => got.push(l));
    s.insert(100, Buffer.alloc(50), 0, 50); // out of order: would have to wait
    expect(s.dead).toBe(true);
    const inOrder = new OrderedStream((_b, _o, l) => got.push(l));
    inOrder.insert(0, Buffer.alloc(50), 0, 50); // in order: delivered in place, nothing held
    expect(got).toEqual([50]);
  });
});
