import { quicInitialKeys, QUIC_V1, QUIC_V2, headerMask } from '../../../src/fingerprint/quic/keys.js';
import { decodePacketNumber } from '../../../src/fingerprint/quic/packet.js';

const dcid = Buffer.from('8394c8f03e515708', 'hex');

describe('QUIC Initial keys', () => {
  test('v1 matches RFC 9001 Appendix A.1', () => {
    const k = quicInitialKeys(dcid, QUIC_V1)!;
    expect(k.client.key.toString('hex')).toBe('1f369613dd76d5467730efcbe3b1a22d');
    expect(k.client.iv.toString('hex')).toBe('fa044b2f42a3fd3b46fb255c');
    expect(k.client.hp.toString('hex')).toBe('9f50449e04a0e810283a1e9933adedd2');
    expect(k.server.key.toString('hex')).toBe('cf3a5331653c364c88f0f379b6067e37');
    expect(k.server.iv.toString('hex')).toBe('0ac1493ca1905853b0bba03e');
    expect(k.server.hp.toString('hex')).toBe('c206b8d9b9f0f37644430b490eeaa314');
  });

  test('v2 matches RFC 9369 Appendix A.1', () => {
    const k = quicInitialKeys(dcid, QUIC_V2)!;
    expect(k.client.key.toString('hex')).toBe('8b1a0bc121284290a29e0971b5cd045d');
    expect(k.client.iv.toString('hex')).toBe('91f73e2351d8fa91660e909f');
    expect(k.client.hp.toString('hex')).toBe('45b95e15235d6f45a6b19cbcb0294ba9');
    expect(k.server.key.toString('hex')).toBe('82db637861d55e1d011f19ea71d5d2a7');
    expect(k.server.iv.toString('hex')).toBe('dd13c276499c0249d3310652');
    expect(k.server.hp.toString('hex')).toBe('edf6d05c83121201b436e16877593c3a');
  });

  test('header protection mask (RFC 9001 A.2 sample)', () => {
    const k = quicInitialKeys(dcid, QUIC_V1)!;
    expect(headerMask(k.client, Buffer.from('d1b1c98dd7689fb8ec11d242b123dc9b', 'hex')).subarray(0, 5).toString('hex')).toBe('437b9aec36');
  });

  test('unknown versions have no Initial keys', () => {
    expect(quicInitialKeys(dcid, 0x0a0a0a0a)).toBeNull();
  });

  test('packet number decoding (RFC 9000 A.3 example)', () => {
    expect(decodePacketNumber(0xa82f30ea, 0x9b32, 16)).toBe(0xa82f9b32);
    expect(decodePacketNumber(-1, 0, 8)).toBe(0);
  });
});
