import { readFileSync } from 'node:fs';
import { createTlsAnalyzer } from '../../../src/fingerprint/tls/analyzer.js';
import { ja4 } from '../../../src/fingerprint/ja4.js';
import { parseClientHello } from '../../../src/fingerprint/tls/hello.js';
import { tls13Seal } from '../../../src/fingerprint/decrypt/tls.js';
import { run, TcpConversation } from '../helpers/packets.js';
import { FingerprintEngine } from '../../../src/fingerprint/engine.js';
import { LINKTYPE_RAW } from '../../../src/capture/capture-reader.js';
import {
  alpnExt, chromeLikeHello, clientHelloBody, ext, handshake, record, serverHelloBody, sniExt, supportedVersionsExt, u16, vec24,
} from '../helpers/tlsbuild.js';

const cert = readFileSync(new URL('../../fixtures/tls/selfsigned-ec.der', import.meta.url));
const hello = chromeLikeHello();
const helloRecord = record(22, handshake(1, hello), 0x0301);
const expectedJa4 = 't13d1516h2_8daaf6152771_e5627efa2ab1';
const tls12ServerFlight = Buffer.concat([
  record(22, handshake(2, serverHelloBody({ cipher: 0xc02f, extensions: [ext(0xff01, Buffer.of(0)), alpnExt('h2')] }))),
  record(22, handshake(11, vec24(vec24(cert), vec24(cert)))),
  record(22, handshake(14, Buffer.alloc(0))),
]);

const analyzers = [createTlsAnalyzer];
const values = (recs: { type: string; value: string }[], type: string) => recs.filter((r) => r.type === type).map((r) => r.value);

describe('TLS over TCP analyzer', () => {
  test('ClientHello, ServerHello and both certificates of the chain', () => {
    const c = new TcpConversation();
    c.send(true, helloRecord);
    c.send(false, tls12ServerFlight);
    const recs = run(analyzers, c.frames);
    expect(values(recs, 'ja4')).toEqual([expectedJa4]);
    expect(values(recs, 'ja4s')).toEqual(['t1202h2_c02f_' + values(recs, 'ja4s')[0].split('_')[2]]);
    expect(values(recs, 'ja4x')).toHaveLength(2);
    const r = recs.find((x) => x.type === 'ja4')!;
    expect(r).toMatchObject({ src: '10.0.0.1', src_port: 50000, dst: '10.0.0.2', dst_port: 443, transport: 'tcp', frame: 4, sni: 'example.com' });
    expect(recs.find((x) => x.type === 'ja4s')!.src).toBe('10.0.0.1'); // always the client
  });

  test('a ClientHello split over three segments is reassembled; the frame is the last piece', () => {
    const c = new TcpConversation();
    c.send(true, helloRecord.subarray(0, 3));
    c.send(true, helloRecord.subarray(3, 100));
    c.send(true, helloRecord.subarray(100));
    const recs = run(analyzers, c.frames);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ type: 'ja4', value: expectedJa4, frame: 6 });
  });

  test('a ClientHello split over two records is reassembled', () => {
    const hs = handshake(1, hello);
    const c = new TcpConversation();
    c.send(true, Buffer.concat([record(22, hs.subarray(0, 50)), record(22, hs.subarray(50))]));
    expect(values(run(analyzers, c.frames), 'ja4')).toEqual([expectedJa4]);
  });

  test('segments out of order and retransmitted', () => {
    const c = new TcpConversation();
    const base = c.cseq;
    c.sendAt(true, base + 120, helloRecord.subarray(120));
    c.sendAt(true, base + 60, helloRecord.subarray(60, 120));
    c.sendAt(true, base + 60, helloRecord.subarray(60, 120)); // retransmission
    c.sendAt(true, base, helloRecord.subarray(0, 60));
    c.sendAt(true, base, helloRecord.subarray(0, 60));
    const recs = run(analyzers, c.frames);
    expect(values(recs, 'ja4')).toEqual([expectedJa4]);
  });

  test('a ClientHello retransmitted with different content: the first complete one wins', () => {
    const other = record(22, handshake(1, clientHelloBody({ ciphers: [0x002f], extensions: [sniExt('other.example')] })));
    // Same sequence space, different bytes: the stream keeps the first copy.
    const c = new TcpConversation();
    const seq = c.send(true, helloRecord);
    c.sendAt(true, seq, other);
    let recs = run(analyzers, c.frames);
    expect(values(recs, 'ja4')).toEqual([expectedJa4]);
    // A second, different ClientHello later in the stream does not replace the first either.
    const d = new TcpConversation();
    d.send(true, helloRecord);
    d.send(true, other);
    recs = run(analyzers, d.frames);
    expect(values(recs, 'ja4')).toEqual([expectedJa4]);
  });

  test('TLS after a preamble (SOCKS / HTTP CONNECT) is found', () => {
    const c = new TcpConversation();
    c.send(true, Buffer.from('CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'));
    c.send(false, Buffer.from('HTTP/1.1 200 Connection established\r\n\r\n'));
    c.send(true, helloRecord);
    c.send(false, tls12ServerFlight);
    const recs = run(analyzers, c.frames);
    expect(values(recs, 'ja4')).toEqual([expectedJa4]);
    expect(values(recs, 'ja4s')).toHaveLength(1);
  });

  test('a preamble, then a ClientHello whose header arrives one byte per segment', () => {
    const c = new TcpConversation();
    c.send(true, Buffer.from('\x05\x01\x00'));
    for (let i = 0; i < 10; i++) c.send(true, helloRecord.subarray(i, i + 1));
    c.send(true, helloRecord.subarray(10));
    expect(values(run(analyzers, c.frames), 'ja4')).toEqual([expectedJa4]);
  });

  test('an SSH connection is given up at its banner: no search for a later ClientHello, no more reassembly', () => {
    const c = new TcpConversation();
    c.send(true, Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'));
    c.send(false, Buffer.from('SSH-2.0-OpenSSH_9.6\r\n'));
    c.send(true, helloRecord); // would be found as "TLS after a preamble" if the banner were not recognised
    const seen: string[] = [];
    const engine = new FingerprintEngine((r) => seen.push(r.type), { factories: analyzers });
    c.frames.forEach((data, i) => engine.handleFrame({ frame: i + 1, tsUs: 1e12 + i * 1000, linkType: LINKTYPE_RAW, interfaceId: 0, data, origLen: data.length }));
    const flow = [...engine.flows.all()][0];
    expect(seen).toEqual([]);
    expect(flow.streamDoneMask & 1).toBe(1); // the TLS analyzer's slot: the engine stops reassembling for it
    // The client's banner was the last segment reassembled.
    expect(flow.streams[0]?.delivered).toBe(Buffer.byteLength('SSH-2.0-OpenSSH_9.6\r\n'));
    expect(flow.streams[1]?.delivered).toBe(0); // made by the SYN-ACK, never fed
  });

  test('garbage and truncated records do not throw and produce nothing', () => {
    const c = new TcpConversation();
    c.send(true, Buffer.from('160301ffff01', 'hex'));
    c.send(true, Buffer.alloc(100, 0x16));
    c.send(false, Buffer.from('16030300050200000100', 'hex'));
    expect(() => run(analyzers, c.frames)).not.toThrow();
  });

  test('TLS 1.3 with key-log secrets: the encrypted certificate yields JA4X and application data is handed on', () => {
    const random = Buffer.alloc(32, 0x42);
    const ch = chromeLikeHello(random);
    const shs = Buffer.alloc(32, 1), chs = Buffer.alloc(32, 2), sap = Buffer.alloc(32, 3), cap = Buffer.alloc(32, 4);
    const sh = serverHelloBody({ cipher: 0x1301, extensions: [ext(0x002b, u16(0x0304)), ext(0x0033, Buffer.alloc(36))] });
    const ee = handshake(8, Buffer.from('000900100005000302683200', 'hex').subarray(0, 11));
    const certMsg = handshake(11, Buffer.concat([Buffer.of(0), vec24(Buffer.concat([vec24(cert), u16(0)]))]));
    const c = new TcpConversation();
    c.send(true, record(22, handshake(1, ch), 0x0301));
    c.send(false, Buffer.concat([
      record(22, handshake(2, sh)),
      record(20, Buffer.of(1)),
      tls13Seal(0x1301, shs, 0, 22, Buffer.concat([ee, certMsg])),
      tls13Seal(0x1301, shs, 1, 22, handshake(20, Buffer.alloc(32))),
    ]));
    c.send(true, Buffer.concat([tls13Seal(0x1301, chs, 0, 22, handshake(20, Buffer.alloc(32))), tls13Seal(0x1301, cap, 0, 23, Buffer.from('GET / HTTP/1.1\r\n\r\n'))]));
    const keyLog = [
      `SERVER_HANDSHAKE_TRAFFIC_SECRET ${random.toString('hex')} ${shs.toString('hex')}`,
      `CLIENT_HANDSHAKE_TRAFFIC_SECRET ${random.toString('hex')} ${chs.toString('hex')}`,
      `SERVER_TRAFFIC_SECRET_0 ${random.toString('hex')} ${sap.toString('hex')}`,
      `CLIENT_TRAFFIC_SECRET_0 ${random.toString('hex')} ${cap.toString('hex')}`,
    ].join('\n');
    const seen: string[] = [];
    const sniff = () => ({ name: 'sniff', methods: ['ja4h' as const], onPlaintext: (_f: unknown, fromClient: boolean, b: Buffer, _p: unknown, alpn: string | null) => { seen.push(`${fromClient}:${alpn}:${b.toString()}`); } });
    const recs = run([createTlsAnalyzer, sniff], c.frames, keyLog);
    expect(values(recs, 'ja4x')).toHaveLength(1);
    expect(seen).toEqual(['true:h2:GET / HTTP/1.1\r\n\r\n']);
    // Without the secrets the same capture yields no certificate and no plaintext.
    seen.length = 0;
    expect(values(run([createTlsAnalyzer, sniff], c.frames), 'ja4x')).toHaveLength(0);
    expect(seen).toHaveLength(0);
  });

  test('HelloRetryRequest: JA4S from the first ServerHello; the compat CCS does not hide the real ServerHello', () => {
    const hrrRandom = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');
    const c = new TcpConversation();
    c.send(true, helloRecord);
    c.send(false, Buffer.concat([
      record(22, handshake(2, serverHelloBody({ random: hrrRandom, cipher: 0x1302, extensions: [ext(0x002b, u16(0x0304)), ext(0x0033, u16(0x001d))] }))),
      record(20, Buffer.of(1)),
    ]));
    c.send(true, Buffer.concat([record(20, Buffer.of(1)), record(22, handshake(1, hello))]));
    c.send(false, record(22, handshake(2, serverHelloBody({ cipher: 0x1302, extensions: [ext(0x002b, u16(0x0304)), ext(0x0033, Buffer.alloc(36))] }))));
    const recs = run(analyzers, c.frames);
    expect(values(recs, 'ja4')).toEqual([expectedJa4]);
    expect(values(recs, 'ja4s')).toHaveLength(1);
    expect(values(recs, 'ja4s')[0]).toMatch(/^t130200_1302_/);
  });

  test('ja4 of the builder hello is the reference example', () => {
    expect(ja4(parseClientHello(hello, 0, hello.length)!).ja4).toBe(expectedJa4);
    expect(supportedVersionsExt(0x0304).length).toBe(7);
  });
});
