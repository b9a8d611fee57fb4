import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { HmacKey, hkdfExpand, hkdfExtract, hmac, type HashName } from '../../../src/fingerprint/decrypt/hkdf.js';

const HASHES: HashName[] = ['sha256', 'sha384'];

describe('HMAC and HKDF against node:crypto', () => {
  test.each(HASHES)('%s HMAC, raw and prepared keys, keys shorter and longer than a block, messages in parts', (hash) => {
    for (const keyLen of [0, 1, 20, 32, 63, 64, 65, 127, 128, 129, 300]) {
      const key = randomBytes(keyLen);
      const prepared = new HmacKey(hash, key);
      for (const msgLen of [0, 1, 55, 56, 64, 119, 200, 1000]) {
        const msg = randomBytes(msgLen);
        const want = createHmac(hash, key).update(msg).digest('hex');
        expect(hmac(hash, key, msg).toString('hex')).toBe(want);
        expect(hmac(hash, prepared, msg.subarray(0, msgLen >> 1), msg.subarray(msgLen >> 1)).toString('hex')).toBe(want);
        // A prepared key keeps serving: the scratch of one HMAC does not leak into the next.
        expect(hmac(hash, prepared, msg).toString('hex')).toBe(want);
      }
    }
  });

  test.each(HASHES)('%s HKDF extract + expand (one block and several) equals hkdfSync', (hash) => {
    for (const length of [12, 16, 32, 48, 64, 100]) {
      const ikm = randomBytes(24);
      const salt = randomBytes(20);
      const info = randomBytes(length % 7 + 3);
      const want = Buffer.from(hkdfSync(hash, ikm, salt, info, length)).toString('hex');
      const prk = hkdfExtract(hash, salt, ikm);
      expect(hkdfExpand(hash, prk, info, length).toString('hex')).toBe(want);
      expect(hkdfExpand(hash, new HmacKey(hash, prk), info, length).toString('hex')).toBe(want);
      expect(hkdfExtract(hash, new HmacKey(hash, salt), ikm).equals(prk)).toBe(true);
    }
  });
});
