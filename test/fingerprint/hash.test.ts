import { createHash } from 'node:crypto';
import { hash12, hash12Bytes } from '../../src/fingerprint/hash.js';

const sha12 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex').slice(0, 12);

test('hash12 and hash12Bytes give the SHA-256 prefix every time, from the cache or not; empty is twelve zeros', () => {
  for (let round = 0; round < 3; round++) {
    expect(hash12('002f,0035,009c')).toBe(sha12('002f,0035,009c'));
    expect(hash12Bytes(Buffer.from('xx0005,000a,000b!'), 2, 16)).toBe(sha12('0005,000a,000b'));
  }
  expect(hash12('')).toBe('000000000000');
  expect(hash12Bytes(Buffer.from('abc'), 1, 1)).toBe('000000000000');
});

test('bytes above 0x7f hash as bytes, strings as UTF-8: the two caches never answer for each other', () => {
  const bytes = Buffer.from([0x61, 0xe9, 0x62]);
  const asLatin1 = bytes.toString('latin1'); // 'aéb'
  expect(hash12(asLatin1)).toBe(sha12(Buffer.from(asLatin1, 'utf8')));
  expect(hash12Bytes(bytes, 0, 3)).toBe(sha12(bytes));
  expect(hash12Bytes(bytes, 0, 3)).not.toBe(hash12(asLatin1));
  expect(hash12(asLatin1)).toBe(sha12(Buffer.from(asLatin1, 'utf8')));
});

test('a flood of distinct inputs keeps the answers right (the cache empties itself when full)', () => {
  for (let i = 0; i < 10_000; i++) {
    const s = `c${i}`;
    if (i % 997 === 0) expect(hash12(s)).toBe(sha12(s));
    else hash12(s);
  }
  expect(hash12('c1')).toBe(sha12('c1'));
});
