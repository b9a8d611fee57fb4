import { formatJa4t, formatJa4ts, parseTcpOptions } from '../../src/fingerprint/ja4t.js';
import { ACK, runPackets, SYN, tcpPacket } from './helpers/netbuild.js';

const opts = (hex: string): Buffer => Buffer.from(hex, 'hex');

describe('TCP option walk', () => {
  test('a SYN with no options: empty list, MSS and scale absent', () => {
    const info = parseTcpOptions(8192, Buffer.alloc(0), 0, 0);
    expect(info).toEqual({ window: 8192, options: '', mss: -1, windowScale: -1 });
    expect(formatJa4t(info)).toBe('8192__0_0');
    expect(formatJa4ts(info)).toBe('8192_00_00_00');
  });

  test('an option list that ends without EOL is read to its end', () => {
    // MSS 1460, SACK permitted, timestamps, NOP, window scale 7: exactly 20 bytes, no EOL.
    const o = opts('020405b4' + '0402' + '080a0000000100000000' + '01' + '030307');
    const info = parseTcpOptions(29200, o, 0, o.length);
    expect(formatJa4t(info)).toBe('29200_2-4-8-1-3_1460_7');
  });

  test('EOL padding shows as one option per byte (the macOS 0-0 tail)', () => {
    const o = opts('020405b4' + '01' + '030306' + '0101' + '080a0000000100000000' + '0402' + '0000');
    expect(formatJa4t(parseTcpOptions(65535, o, 0, o.length))).toBe('65535_2-1-3-1-1-8-4-0-0_1460_6');
  });

  test('a bad option length stops the walk after recording the kind', () => {
    const o = opts('020405b4' + '0801');
    const info = parseTcpOptions(1, o, 0, o.length);
    expect(info.options).toBe('2-8');
    expect(info.mss).toBe(1460);
  });

  test('a length byte past the end, and an MSS of the wrong size', () => {
    expect(parseTcpOptions(1, opts('02'), 0, 1).options).toBe('2');
    const info = parseTcpOptions(1, opts('020305'), 0, 3);
    expect(info.mss).toBe(-1);
    expect(formatJa4ts(info)).toBe('1_2_00_00');
  });

  test('offsets past the buffer never throw', () => {
    expect(parseTcpOptions(1, Buffer.alloc(4), 2, 100).options).toBe('0-0');
    expect(parseTcpOptions(1, Buffer.alloc(4), 10, 4).options).toBe('');
  });
});

describe('JA4T through the engine', () => {
  const base = { src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 443 };

  test('a SYN with no TCP options', () => {
    const recs = runPackets([{ tsUs: 1e15, data: tcpPacket({ ...base, flags: SYN, window: 8192 }) }]);
    const ja4t = recs.filter((r) => r.type === 'ja4t');
    expect(ja4t).toHaveLength(1);
    expect(ja4t[0]).toMatchObject({ value: '8192__0_0', frame: 1, src: '10.0.0.1', src_port: 40000, dst: '10.0.0.2', dst_port: 443, transport: 'tcp' });
  });

  test('a SYN whose option list ends without EOL', () => {
    const o = opts('020405b4' + '0402' + '080a0000000100000000' + '01' + '030307');
    const recs = runPackets([{ tsUs: 1e15, data: tcpPacket({ ...base, flags: SYN, window: 29200, options: o }) }]);
    expect(recs.find((r) => r.type === 'ja4t')?.value).toBe('29200_2-4-8-1-3_1460_7');
  });

  test('only the first SYN of a connection; a SYN with ECN bits counts', () => {
    const recs = runPackets([
      { tsUs: 1e15, data: tcpPacket({ ...base, flags: SYN | 0xc0, window: 1, seq: 7 }) },
      { tsUs: 1e15 + 1e6, data: tcpPacket({ ...base, flags: SYN, window: 2, seq: 7 }) },
    ]);
    expect(recs.filter((r) => r.type === 'ja4t').map((r) => r.value)).toEqual(['1__0_0']);
  });

  test('a SYN with a new initial sequence number on the same ports is a new connection', () => {
    const recs = runPackets([
      { tsUs: 1e15, data: tcpPacket({ ...base, flags: SYN, window: 1, seq: 7 }) },
      { tsUs: 1e15 + 1e6, data: tcpPacket({ ...base, flags: SYN, window: 2, seq: 99 }) },
    ]);
    expect(recs.filter((r) => r.type === 'ja4t').map((r) => r.value)).toEqual(['1__0_0', '2__0_0']);
  });

  test('SYN-ACKs do not produce JA4T', () => {
    const recs = runPackets([{ tsUs: 1e15, data: tcpPacket({ ...base, flags: SYN | ACK }) }]);
    expect(recs.filter((r) => r.type === 'ja4t')).toHaveLength(0);
  });
});
