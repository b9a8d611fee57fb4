import { parseTcpOptions } from '../../src/fingerprint/ja4t.js';
import { Ja4tsState } from '../../src/fingerprint/ja4ts.js';
import { ACK, RST, runPackets, SYN, tcpPacket } from './helpers/netbuild.js';

const synAckOpts = Buffer.from('020405b4' + '0402' + '080a0000000100000000' + '01' + '030307', 'hex');
const info = parseTcpOptions(64240, synAckOpts, 0, synAckOpts.length);

describe('JA4TS state', () => {
  test('one SYN-ACK: the padded Wireshark form', () => {
    expect(new Ja4tsState().synAck(info, 0)).toBe('64240_2-4-8-1-3_1460_7');
    expect(new Ja4tsState().synAck(parseTcpOptions(15500, Buffer.alloc(0), 0, 0), 0)).toBe('15500_00_00_00');
  });

  test('retransmitted SYN-ACKs append the rounded seconds between them', () => {
    const st = new Ja4tsState();
    st.synAck(info, 0);
    expect(st.synAck(info, 400_000)).toBe('64240_2-4-8-1-3_1460_7_0');
    expect(st.synAck(info, 1_900_000)).toBe('64240_2-4-8-1-3_1460_7_0-2');
    // A later bare RST closes the list with R and its delay.
    expect(st.rst('', 5_000_000)).toBe('64240_2-4-8-1-3_1460_7_0-2-R3');
  });

  test('a RST after a single SYN-ACK repeats the fingerprint; with none seen it is all zeros', () => {
    const st = new Ja4tsState();
    st.synAck(info, 0);
    expect(st.rst('', 1)).toBe('64240_2-4-8-1-3_1460_7');
    expect(new Ja4tsState().rst('', 1)).toBe('0_00_00_00');
  });
});

describe('JA4TS through the engine', () => {
  const c = { src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80 };
  const s = { src: '10.0.0.2', dst: '10.0.0.1', sport: 80, dport: 40000 };

  test('from the SYN-ACK, keyed to the client, at the SYN-ACK frame', () => {
    const recs = runPackets([
      { tsUs: 1e15, data: tcpPacket({ ...c, flags: SYN, seq: 1 }) },
      { tsUs: 1e15 + 10, data: tcpPacket({ ...s, flags: SYN | ACK, window: 64240, options: synAckOpts }) },
    ]);
    const r = recs.find((x) => x.type === 'ja4ts');
    expect(r).toMatchObject({ value: '64240_2-4-8-1-3_1460_7', frame: 2, src: '10.0.0.1', src_port: 40000 });
  });

  test('a SYN-ACK with ECN bits and a RST-ACK are not fingerprinted', () => {
    const recs = runPackets([
      { tsUs: 1e15, data: tcpPacket({ ...s, flags: SYN | ACK | 0x40 }) },
      { tsUs: 1e15 + 10, data: tcpPacket({ ...s, flags: RST | ACK }) },
    ]);
    expect(recs.filter((x) => x.type === 'ja4ts')).toHaveLength(0);
  });
});
