import { createHash } from 'node:crypto';
import { chooseAlgorithm, hassh, hasshServer, parseKexInit } from '../../../src/fingerprint/ssh/kexinit.js';
import { OutOfBounds } from '../../../src/fingerprint/ssh/reader.js';
import { kexinitPayload, OPENSSH_LISTS } from '../helpers/sshbuild.js';

const md5 = (s: string) => createHash('md5').update(s).digest('hex');

describe('KEXINIT', () => {
  test('the ten name-lists, and HASSH over the sender\'s direction', () => {
    const payload = kexinitPayload({ ...OPENSSH_LISTS, encS2C: 'aes256-ctr', macS2C: 'hmac-sha1', compS2C: 'none' });
    const { kexinit, end } = parseKexInit(payload, 1);
    expect(end).toBe(payload.length);
    expect(kexinit.encServerToClient).toBe('aes256-ctr');
    expect(hassh(kexinit)).toBe(md5(`${OPENSSH_LISTS.kex};${OPENSSH_LISTS.encC2S};${OPENSSH_LISTS.macC2S};${OPENSSH_LISTS.compC2S}`));
    expect(hasshServer(kexinit)).toBe(md5(`${OPENSSH_LISTS.kex};aes256-ctr;hmac-sha1;none`));
  });

  test('a truncated KEXINIT throws OutOfBounds', () => {
    const payload = kexinitPayload(OPENSSH_LISTS);
    expect(() => parseKexInit(payload.subarray(0, 60), 1)).toThrow(OutOfBounds);
    expect(() => parseKexInit(payload.subarray(0, payload.length - 1), 1)).toThrow(OutOfBounds);
  });

  test('the chosen algorithm is the client\'s first that the server offers', () => {
    expect(chooseAlgorithm('a,b,c', 'c,b')).toBe('b');
    expect(chooseAlgorithm('a', 'b')).toBeNull();
  });
});
