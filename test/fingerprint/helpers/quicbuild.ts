/** Builds protected QUIC long-header packets the way a real endpoint does (for tests). */
import { createCipheriv } from 'node:crypto';
import { headerMask, QUIC_V2, type PacketKeys } from '../../../src/fingerprint/quic/keys.js';

export function varint(v: number): Buffer {
  if (v < 0x40) return Buffer.of(v);
  if (v < 0x4000) return Buffer.of(0x40 | (v >> 8), v & 0xff);
  const b = Buffer.alloc(4);
  b.writeUInt32BE((0x80000000 | v) >>> 0);
  return b;
}

export function cryptoFrame(offset: number, data: Buffer): Buffer {
  return Buffer.concat([Buffer.of(0x06), varint(offset), varint(data.length), data]);
}

/** A protected Initial (or Handshake) packet carrying `frames`, padded to `padTo` bytes of payload. */
export function longPacket(opts: {
  keys: PacketKeys; version: number; dcid: Buffer; scid: Buffer; pn: number; frames: Buffer; type?: 'initial' | 'handshake'; padTo?: number;
}): Buffer {
  const type = opts.type ?? 'initial';
  const typeBits = opts.version === QUIC_V2 ? (type === 'initial' ? 1 : 3) : (type === 'initial' ? 0 : 2);
  const pnLen = 2;
  let payload = opts.frames;
  if (opts.padTo && payload.length < opts.padTo) payload = Buffer.concat([payload, Buffer.alloc(opts.padTo - payload.length)]);
  const length = pnLen + payload.length + 16;
  const first = 0xc0 | (typeBits << 4) | (pnLen - 1);
  const version = Buffer.alloc(4);
  version.writeUInt32BE(opts.version >>> 0);
  const header = Buffer.concat([
    Buffer.of(first), version, Buffer.of(opts.dcid.length), opts.dcid, Buffer.of(opts.scid.length), opts.scid,
    type === 'initial' ? varint(0) : Buffer.alloc(0), varint2(length), Buffer.of((opts.pn >> 8) & 0xff, opts.pn & 0xff),
  ]);
  const nonce = Buffer.from(opts.keys.iv);
  nonce[11] ^= opts.pn & 0xff;
  nonce[10] ^= (opts.pn >> 8) & 0xff;
  const c = createCipheriv(opts.keys.aead as 'aes-128-gcm', opts.keys.key, nonce, { authTagLength: 16 });
  c.setAAD(header);
  const ct = Buffer.concat([c.update(payload), c.final(), c.getAuthTag()]);
  const packet = Buffer.concat([header, ct]);
  const pnOffset = header.length - pnLen;
  const mask = headerMask(opts.keys, packet.subarray(pnOffset + 4, pnOffset + 20));
  packet[0] ^= mask[0] & 0x0f;
  for (let i = 0; i < pnLen; i++) packet[pnOffset + i] ^= mask[1 + i];
  return packet;
}

/** Always a 2-byte varint, so the header length does not depend on the payload size. */
function varint2(v: number): Buffer {
  return Buffer.of(0x40 | (v >> 8), v & 0xff);
}

/** A protected 1-RTT (short header) packet. */
export function shortPacket(keys: PacketKeys, dcid: Buffer, pn: number, frames: Buffer): Buffer {
  const payload = frames.length < 20 ? Buffer.concat([frames, Buffer.alloc(20 - frames.length)]) : frames;
  const header = Buffer.concat([Buffer.of(0x40 | 1), dcid, Buffer.of((pn >> 8) & 0xff, pn & 0xff)]);
  const nonce = Buffer.from(keys.iv);
  nonce[11] ^= pn & 0xff;
  nonce[10] ^= (pn >> 8) & 0xff;
  const c = createCipheriv(keys.aead as 'aes-128-gcm', keys.key, nonce, { authTagLength: 16 });
  c.setAAD(header);
  const packet = Buffer.concat([header, c.update(payload), c.final(), c.getAuthTag()]);
  const pnOffset = 1 + dcid.length;
  const mask = headerMask(keys, packet.subarray(pnOffset + 4, pnOffset + 20));
  packet[0] ^= mask[0] & 0x1f;
  packet[pnOffset] ^= mask[1];
  packet[pnOffset + 1] ^= mask[2];
  return packet;
}
