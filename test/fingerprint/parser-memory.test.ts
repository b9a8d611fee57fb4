/**
 * The parsers' shared budget: bytes held between packets over all flows stay under it, and a parser
 * refused a copy gives up on its flow instead of holding more.
 */
import { ParserMemory, parserMemory } from '../../src/fingerprint/parser-memory.js';
import { HandshakeReader, RecordReader, CT_HANDSHAKE } from '../../src/fingerprint/tls/records.js';
import { OrderedStream } from '../../src/fingerprint/quic/crypto-stream.js';

describe('ParserMemory', () => {
  test('charges each copy to the flow being handled; releases and the end of a flow give it back', () => {
    const m = new ParserMemory(1000);
    const flowA = { parserBytes: 0, parserClosed: false };
    const flowB = { parserBytes: 0, parserClosed: false };
    m.account = flowA;
    expect(m.copy(Buffer.from('hello world'), 6)?.toString()).toBe('world');
    m.account = flowB;
    expect(m.alloc(900)).not.toBeNull();
    expect([m.used, flowA.parserBytes, flowB.parserBytes]).toEqual([905, 5, 900]);
    expect(m.alloc(100)).toBeNull();
    expect(m.refusals).toBe(1);
    m.release(flowB, 400);
    expect([m.used, flowB.parserBytes]).toEqual([505, 500]);
    // Flow B ends holding 500 (a parser dropped its buffer without a word): all of it comes back,
    // and a late release from one of its parsers changes nothing.
    m.close(flowB);
    m.release(flowB, 100);
    expect([m.used, flowB.parserBytes]).toEqual([5, 0]);
    expect(m.alloc(995)).not.toBeNull();
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

describe('accounting over whole captures', () => {
  test('when every flow has ended, everything charged has been given back', async () => {
    const { readFileSync, existsSync, readdirSync } = await import('node:fs');
    const path = await import('node:path');
    const { CaptureReader } = await import('../../src/capture/capture-reader.js');
    const { FingerprintEngine } = await import('../../src/fingerprint/engine.js');
    const { LINKTYPE_RAW } = await import('../../src/capture/capture-reader.js');
    const { TcpConversation } = await import('./helpers/packets.js');
    const { chromeLikeHello, handshake, record } = await import('./helpers/tlsbuild.js');

    // Built here, so it runs on a fresh clone too: a ClientHello cut over three segments (held
    // between them), and a connection left with half a hello when the capture ends.
    const helloRecord = record(22, handshake(1, chromeLikeHello()), 0x0301);
    const whole = new TcpConversation();
    whole.send(true, helloRecord.subarray(0, 3));
    whole.send(true, helloRecord.subarray(3, 100));
    whole.send(true, helloRecord.subarray(100));
    const cut = new TcpConversation();
    cut.send(true, helloRecord.subarray(0, 150));
    const built: [string, Buffer[]][] = [['split hello', whole.frames], ['unfinished hello', cut.frames]];

    const shared = path.join(process.cwd(), '../shared/conformance/foxio/pcap');
    if (!existsSync(shared)) process.stderr.write(`parser-memory: ${shared} not found; only the built connections are checked\n`);
    const files = existsSync(shared) ? readdirSync(shared).filter((f) => /\.pcapng?$/.test(f)).map((f) => path.join(shared, f)) : [];
    const cases: [string, (engine: InstanceType<typeof FingerprintEngine>, onFrame: () => void) => void][] = [
      ...built.map(([name, frames]): [string, (engine: InstanceType<typeof FingerprintEngine>, onFrame: () => void) => void] => [name, (engine, onFrame) => {
        frames.forEach((data, i) => { engine.handleFrame({ frame: i + 1, tsUs: 1e12 + i * 1000, linkType: LINKTYPE_RAW, interfaceId: 0, data, origLen: data.length }); onFrame(); });
      }]),
      ...files.map((file): [string, (engine: InstanceType<typeof FingerprintEngine>, onFrame: () => void) => void] => [path.basename(file), (engine, onFrame) => {
        const reader = new CaptureReader((f) => { engine.handleFrame(f); onFrame(); }, (t, d) => engine.addSecrets(t, d));
        try {
          reader.push(readFileSync(file));
          reader.end();
        } catch { /* a capture the conformance suite keeps damaged on purpose */ }
      }]),
    ];
    for (const [name, feed] of cases) {
      const before = parserMemory.used;
      let peak = before;
      const engine = new FingerprintEngine(() => {});
      feed(engine, () => { peak = Math.max(peak, parserMemory.used); });
      engine.finish();
      if (name.endsWith('hello')) expect({ name, charged: peak > before }).toEqual({ name, charged: true });
      expect({ name, used: parserMemory.used }).toEqual({ name, used: before });
    }
  });
});
