import { ja4dV4 } from '../../../src/fingerprint/dhcp/dhcpv4.js';

/** A BOOTP message with the DHCP cookie and the given options (code, bytes) followed by END. */
export function dhcpv4(op: number, options: [number, number[]][], tail: number[] = [255]): Buffer {
  const fixed = Buffer.alloc(236);
  fixed[0] = op;
  fixed[1] = 1;
  fixed[2] = 6;
  const opts: number[] = [];
  for (const [code, data] of options) opts.push(code, data.length, ...data);
  return Buffer.concat([fixed, Buffer.from([0x63, 0x82, 0x53, 0x63]), Buffer.from(opts), Buffer.from(tail)]);
}

describe('JA4D for DHCPv4', () => {
  test('DISCOVER: requested address shows as i, type and address leave the list', () => {
    const m = dhcpv4(1, [[53, [1]], [61, [1, 0, 11, 0x82, 1, 0xfc, 0x42]], [50, [0, 0, 0, 0]], [55, [1, 3, 6, 42]]]);
    expect(ja4dV4(m, 0, m.length)).toBe('disco0000in_61-55_1-3-6-42');
  });

  test('OFFER without a request list; ACK; max message size and FQDN', () => {
    const offer = dhcpv4(2, [[53, [2]], [1, [255, 255, 255, 0]], [58, [0, 0, 7, 8]], [59, [0, 0, 12, 78]], [51, [0, 0, 14, 16]], [54, [192, 168, 0, 1]]]);
    expect(ja4dV4(offer, 0, offer.length)).toBe('offer0000nn_1-58-59-51-54_00');
    const req = dhcpv4(1, [[53, [3]], [57, [5, 220]], [81, [0, 0, 0]], [12, [0x61]], [55, [1, 121]]]);
    expect(ja4dV4(req, 0, req.length)).toBe('reqst1500nd_57-12-55_1-121');
  });

  test('pad options are skipped; unknown message types print as five digits', () => {
    const m = dhcpv4(1, [[53, [200]]], [0, 0, 12, 1, 0x61, 255]);
    expect(ja4dV4(m, 0, m.length)).toBe('002000000nn_12_00');
  });

  test('not DHCP: BOOTP without cookie or type, short messages, truncated options', () => {
    const noType = dhcpv4(1, [[12, [0x61]]]);
    expect(ja4dV4(noType, 0, noType.length)).toBeNull();
    const noCookie = Buffer.from(noType);
    noCookie[236] = 0;
    expect(ja4dV4(noCookie, 0, noCookie.length)).toBeNull();
    expect(ja4dV4(Buffer.alloc(100), 0, 100)).toBeNull();
    const trunc = dhcpv4(1, [[53, [1]], [55, [1, 2, 3]]], []);
    expect(ja4dV4(trunc, 0, trunc.length - 2)).toBe('disco0000nn_00_00');
  });
});
