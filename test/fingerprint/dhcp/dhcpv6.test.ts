import { ja4dV6 } from '../../../src/fingerprint/dhcp/dhcpv6.js';
import { runPackets, udpPacket } from '../helpers/netbuild.js';

function opt(code: number, data: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(code, 0);
  h.writeUInt16BE(data.length, 2);
  return Buffer.concat([h, data]);
}
const u16s = (...v: number[]) => Buffer.concat(v.map((x) => { const b = Buffer.alloc(2); b.writeUInt16BE(x); return b; }));
const msg = (type: number, ...opts: Buffer[]) => Buffer.concat([Buffer.of(type, 1, 2, 3), ...opts]);
const clientId = opt(1, Buffer.alloc(14, 1));
const ia = (code: number, ...inner: Buffer[]) => opt(code, Buffer.concat([Buffer.alloc(12), ...inner]));

describe('JA4D for DHCPv6', () => {
  test('SOLICIT: client-id length as size, the option request list', () => {
    const m = msg(1, clientId, opt(6, u16s(23, 24)), opt(8, u16s(0)), ia(25));
    expect(ja4dV6(m, 0, m.length)).toBe('solct0014nn_1-6-8-25_23-24');
  });

  test('options nested in IA_PD and IA_NA follow their container; an address in IA_NA is i', () => {
    const adv = msg(2, ia(25, opt(26, Buffer.alloc(25))), clientId, opt(2, Buffer.alloc(14)));
    expect(ja4dV6(adv, 0, adv.length)).toBe('advrt0014nn_25-26-1-2_00');
    const req = msg(3, clientId, ia(3, opt(5, Buffer.alloc(24))), opt(39, Buffer.of(0, 1, 0x61)));
    expect(ja4dV6(req, 0, req.length)).toBe('reqst0014id_1-3-5-39_00');
  });

  test('truncated options stop the walk; relay messages skip their addresses', () => {
    const m = msg(7, clientId, opt(13, Buffer.alloc(2)));
    expect(ja4dV6(m, 0, m.length - 1)).toBe('reply0014nn_1_00');
    const relay = Buffer.concat([Buffer.of(12, 0), Buffer.alloc(32), opt(9, msg(1))]);
    expect(ja4dV6(relay, 0, relay.length)).toBe('rlayf0000nn_9_00');
    expect(ja4dV6(Buffer.of(0, 0, 0, 0), 0, 4)).toBeNull();
  });

  test('through the engine, keyed by frame (the reference matches DHCP by frame), on ports 546/547', () => {
    const m = msg(1, clientId, opt(6, u16s(23)));
    const recs = runPackets([{ tsUs: 1e15, data: udpPacket({ src: 'fe80::1', dst: 'ff02::1:2', sport: 546, dport: 547, payload: m }) }]);
    expect(recs).toEqual([expect.objectContaining({ type: 'ja4d', value: 'solct0014nn_1-6_23', frame: 1, transport: 'udp' })]);
  });
});
