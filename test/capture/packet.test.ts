import { formatAddress } from '../../src/capture/packet.js';
import { ip6, rng } from '../helpers/packets.js';

const fmt6 = (groups: number[]): string => {
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return formatAddress(b, 0, 16);
};

describe('formatAddress', () => {
  test('IPv4 dotted quad, at any offset', () => {
    expect(formatAddress(Buffer.from([9, 9, 192, 0, 2, 255]), 2, 4)).toBe('192.0.2.255');
    expect(formatAddress(Buffer.from([0, 0, 0, 0]), 0, 4)).toBe('0.0.0.0');
  });

  test.each([
    // RFC 5952 §4.1: leading zeros suppressed.
    [[0x2001, 0x0db8, 0, 0, 0, 0, 0, 1], '2001:db8::1'],
    // §4.2.1: the longest run is shortened as much as possible.
    [[0x2001, 0xdb8, 0, 0, 0, 0, 2, 1], '2001:db8::2:1'],
    // §4.2.2: a single zero group is not shortened.
    [[0x2001, 0xdb8, 0, 1, 1, 1, 1, 1], '2001:db8:0:1:1:1:1:1'],
    // §4.2.3: the longest run wins; on a tie the first one does.
    [[0x2001, 0, 0, 1, 0, 0, 0, 1], '2001:0:0:1::1'],
    [[0x2001, 0xdb8, 0, 0, 1, 0, 0, 1], '2001:db8::1:0:0:1'],
    // §4.3: lower case.
    [[0x2001, 0xdb8, 0, 0, 0, 0, 0xabcd, 0xef01], '2001:db8::abcd:ef01'],
    // Edges.
    [[0, 0, 0, 0, 0, 0, 0, 0], '::'],
    [[0, 0, 0, 0, 0, 0, 0, 1], '::1'],
    [[1, 0, 0, 0, 0, 0, 0, 0], '1::'],
    [[0xfe80, 0, 0, 0, 0, 0, 0, 0], 'fe80::'],
    [[0, 0, 1, 0, 0, 0, 0, 0], '0:0:1::'],
    [[0, 1, 0, 1, 0, 1, 0, 1], '0:1:0:1:0:1:0:1'],
    [[0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff, 0xffff], 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
    // §5: IPv4-mapped addresses print their IPv4 part dotted.
    [[0, 0, 0, 0, 0, 0xffff, 0xc000, 0x0201], '::ffff:192.0.2.1'],
  ])('%j → %s', (groups, text) => {
    expect(fmt6(groups)).toBe(text);
  });

  test('agrees with the WHATWG URL serializer (RFC 5952 compression) on random zero-heavy addresses', () => {
    const rand = rng(5952);
    const mismatches: string[] = [];
    for (let i = 0; i < 5000; i++) {
      const groups = Array.from({ length: 8 }, () => (rand() < 0.5 ? 0 : Math.floor(rand() * 0x10000)));
      if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) continue;
      const text = fmt6(groups);
      const url = new URL(`http://[${text}]/`).hostname;
      const back = ip6(text).equals(Buffer.from(groups.flatMap((g) => [g >> 8, g & 0xff])));
      if (url !== `[${text}]` || !back) mismatches.push(`${groups.join(',')}: ${text} vs ${url}`);
    }
    expect(mismatches).toEqual([]);
  });
});
