/**
 * TLS record decryption from key-log secrets: TLS 1.3 (AES-GCM, ChaCha20-Poly1305, AES-CCM) and
 * TLS 1.0–1.2 (AES-GCM, ChaCha20-Poly1305, AES-CBC with HMAC, MAC-then-encrypt or
 * encrypt-then-MAC). Every decryption is authenticated, so a wrong key is noticed (null), never
 * turned into garbage plaintext.
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto';
import { HmacKey, hkdfExpandLabel, type HashName } from './hkdf.js';
import { CT_APPLICATION_DATA } from '../tls/records.js';

type Aead = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305' | 'aes-128-ccm';

interface Tls13Suite { aead: Aead; keyLen: number; hash: HashName; tagLen: number }

const TLS13_SUITES: Record<number, Tls13Suite> = {
  0x1301: { aead: 'aes-128-gcm', keyLen: 16, hash: 'sha256', tagLen: 16 },
  0x1302: { aead: 'aes-256-gcm', keyLen: 32, hash: 'sha384', tagLen: 16 },
  0x1303: { aead: 'chacha20-poly1305', keyLen: 32, hash: 'sha256', tagLen: 16 },
  0x1304: { aead: 'aes-128-ccm', keyLen: 16, hash: 'sha256', tagLen: 16 },
  0x1305: { aead: 'aes-128-ccm', keyLen: 16, hash: 'sha256', tagLen: 8 },
};

export function tls13Suite(cipher: number): Tls13Suite | undefined {
  return TLS13_SUITES[cipher];
}

export interface Plaintext {
  type: number;
  data: Buffer;
}

function aeadOpen(aead: Aead, key: Buffer, nonce: Buffer, aad: Buffer, ct: Buffer, tag: Buffer): Buffer | null {
  try {
    // The union of overloads does not narrow on a string variable; the options cover GCM, CCM and ChaCha alike.
    const d = createDecipheriv(aead as 'aes-128-gcm', key, nonce, { authTagLength: tag.length });
    d.setAuthTag(tag);
    if (aead === 'aes-128-ccm') d.setAAD(aad, { plaintextLength: ct.length });
    else d.setAAD(aad);
    const out = d.update(ct);
    d.final();
    return out;
  } catch {
    return null;
  }
}

function xorSeq(iv: Buffer, seq: number): Buffer {
  const nonce = Buffer.from(iv);
  let s = seq;
  for (let i = nonce.length - 1; i >= nonce.length - 8 && s > 0; i--) {
    nonce[i] ^= s & 0xff;
    s = Math.floor(s / 256);
  }
  return nonce;
}

/** One direction's keys for one TLS 1.3 epoch (handshake or application traffic). */
export class Tls13RecordKeys {
  private readonly key: Buffer;
  private readonly iv: Buffer;
  seq = 0;

  constructor(private readonly suite: Tls13Suite, secret: Buffer) {
    const prk = new HmacKey(suite.hash, secret);
    this.key = hkdfExpandLabel(suite.hash, prk, 'key', Buffer.alloc(0), suite.keyLen);
    this.iv = hkdfExpandLabel(suite.hash, prk, 'iv', Buffer.alloc(0), 12);
  }

  /** Opens an application_data record body; returns the inner content type and data, or null. */
  open(buf: Buffer, off: number, len: number): Plaintext | null {
    const tagLen = this.suite.tagLen;
    if (len < tagLen + 1) return null;
    const aad = Buffer.allocUnsafe(5);
    aad[0] = CT_APPLICATION_DATA; aad[1] = 3; aad[2] = 3; aad.writeUInt16BE(len, 3);
    const pt = aeadOpen(this.suite.aead, this.key, xorSeq(this.iv, this.seq), aad,
      buf.subarray(off, off + len - tagLen), buf.subarray(off + len - tagLen, off + len));
    if (!pt) return null;
    this.seq++;
    let end = pt.length;
    while (end > 0 && pt[end - 1] === 0) end--;
    if (end === 0) return null;
    return { type: pt[end - 1], data: pt.subarray(0, end - 1) };
  }
}

/**
 * A TLS 1.3 direction's successive epochs (early, handshake, application). Records are opened with
 * the current epoch; when that fails, the later ones are tried, which follows the key changes after
 * Finished without tracking the handshake transcript.
 */
export class Tls13Direction {
  private readonly epochs: Tls13RecordKeys[];
  private current = 0;

  constructor(suite: Tls13Suite, secrets: Buffer[]) {
    this.epochs = secrets.map((s) => new Tls13RecordKeys(suite, s));
  }

  open(buf: Buffer, off: number, len: number): Plaintext | null {
    for (let i = this.current; i < this.epochs.length; i++) {
      const pt = this.epochs[i].open(buf, off, len);
      if (pt) { this.current = i; return pt; }
    }
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// TLS 1.0–1.2

type Cbc = 'aes-128-cbc' | 'aes-256-cbc';
interface Tls12Suite {
  kind: 'gcm' | 'chacha' | 'cbc';
  cipher: Aead | Cbc;
  keyLen: number;
  /** fixed_iv_length: 4 for GCM, 12 for ChaCha20, 16 for CBC (used by TLS 1.0 only). */
  ivLen: number;
  mac: 'sha1' | 'sha256' | 'sha384' | null;
  macLen: number;
  prf: HashName;
}

const gcm = (keyLen: 16 | 32, prf: HashName): Tls12Suite =>
  ({ kind: 'gcm', cipher: keyLen === 16 ? 'aes-128-gcm' : 'aes-256-gcm', keyLen, ivLen: 4, mac: null, macLen: 0, prf });
const chacha: Tls12Suite = { kind: 'chacha', cipher: 'chacha20-poly1305', keyLen: 32, ivLen: 12, mac: null, macLen: 0, prf: 'sha256' };
const cbc = (keyLen: 16 | 32, mac: 'sha1' | 'sha256' | 'sha384'): Tls12Suite => ({
  kind: 'cbc', cipher: keyLen === 16 ? 'aes-128-cbc' : 'aes-256-cbc', keyLen, ivLen: 16, mac,
  macLen: mac === 'sha1' ? 20 : mac === 'sha256' ? 32 : 48, prf: mac === 'sha384' ? 'sha384' : 'sha256',
});

const TLS12_SUITES: Record<number, Tls12Suite> = {
  0x009c: gcm(16, 'sha256'), 0x009d: gcm(32, 'sha384'), 0x009e: gcm(16, 'sha256'), 0x009f: gcm(32, 'sha384'),
  0xc02b: gcm(16, 'sha256'), 0xc02c: gcm(32, 'sha384'), 0xc02f: gcm(16, 'sha256'), 0xc030: gcm(32, 'sha384'),
  0xcca8: chacha, 0xcca9: chacha, 0xccaa: chacha,
  0x002f: cbc(16, 'sha1'), 0x0035: cbc(32, 'sha1'), 0x0033: cbc(16, 'sha1'), 0x0039: cbc(32, 'sha1'),
  0xc009: cbc(16, 'sha1'), 0xc00a: cbc(32, 'sha1'), 0xc013: cbc(16, 'sha1'), 0xc014: cbc(32, 'sha1'),
  0x003c: cbc(16, 'sha256'), 0x003d: cbc(32, 'sha256'), 0x0067: cbc(16, 'sha256'), 0x006b: cbc(32, 'sha256'),
  0xc023: cbc(16, 'sha256'), 0xc024: cbc(32, 'sha384'), 0xc027: cbc(16, 'sha256'), 0xc028: cbc(32, 'sha384'),
};

export function tls12Suite(cipher: number): Tls12Suite | undefined {
  return TLS12_SUITES[cipher];
}

/** TLS 1.2 PRF (P_hash); TLS 1.0/1.1 PRF (P_MD5 xor P_SHA1) when `legacy`. */
export function prf(hash: HashName, secret: Buffer, label: string, seed: Buffer, length: number, legacy = false): Buffer {
  const fullSeed = Buffer.concat([Buffer.from(label, 'latin1'), seed]);
  if (!legacy) return pHash(hash, secret, fullSeed, length);
  const half = Math.ceil(secret.length / 2);
  const md5 = pHash('md5', secret.subarray(0, half), fullSeed, length);
  const sha1 = pHash('sha1', secret.subarray(secret.length - half), fullSeed, length);
  for (let i = 0; i < length; i++) md5[i] ^= sha1[i];
  return md5;
}

function pHash(hash: string, secret: Buffer, seed: Buffer, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let a = seed;
  let filled = 0;
  while (filled < length) {
    a = createHmac(hash, secret).update(a).digest();
    filled += createHmac(hash, secret).update(a).update(seed).digest().copy(out, filled);
  }
  return out;
}

export interface Tls12Keys {
  client: Tls12Direction;
  server: Tls12Direction;
}

/** Derives both directions' record keys from the master secret (RFC 5246 §6.3). */
export function tls12Keys(
  cipher: number, version: number, master: Buffer, clientRandom: Buffer, serverRandom: Buffer, encryptThenMac: boolean,
): Tls12Keys | null {
  const suite = TLS12_SUITES[cipher];
  if (!suite || master.length !== 48) return null;
  const legacy = version < 0x0303;
  const n = 2 * suite.macLen + 2 * suite.keyLen + 2 * suite.ivLen;
  const kb = prf(legacy ? 'sha256' : suite.prf, master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), n, legacy);
  let p = 0;
  const take = (len: number): Buffer => { const b = kb.subarray(p, p + len); p += len; return b; };
  const cMac = take(suite.macLen), sMac = take(suite.macLen);
  const cKey = take(suite.keyLen), sKey = take(suite.keyLen);
  const cIv = take(suite.ivLen), sIv = take(suite.ivLen);
  return {
    client: new Tls12Direction(suite, version, cKey, cIv, cMac, encryptThenMac),
    server: new Tls12Direction(suite, version, sKey, sIv, sMac, encryptThenMac),
  };
}

export class Tls12Direction {
  seq = 0;
  private iv: Buffer;

  constructor(
    private readonly suite: Tls12Suite, private readonly version: number, private readonly key: Buffer,
    iv: Buffer, private readonly macKey: Buffer, private readonly etm: boolean,
  ) {
    this.iv = Buffer.from(iv);
  }

  /** Opens one record body of the given outer type; returns the plaintext or null. */
  open(type: number, buf: Buffer, off: number, len: number): Buffer | null {
    const pt = this.suite.kind === 'cbc' ? this.openCbc(type, buf, off, len) : this.openAead(type, buf, off, len);
    if (pt) this.seq++;
    return pt;
  }

  private header(type: number, len: number): Buffer {
    const h = Buffer.alloc(13);
    h.writeUInt32BE(Math.floor(this.seq / 0x100000000), 0);
    h.writeUInt32BE(this.seq >>> 0, 4);
    h[8] = type;
    h.writeUInt16BE(this.version, 9);
    h.writeUInt16BE(len, 11);
    return h;
  }

  private openAead(type: number, buf: Buffer, off: number, len: number): Buffer | null {
    const s = this.suite;
    if (s.kind === 'gcm') {
      if (len < 8 + 16) return null;
      const nonce = Buffer.concat([this.iv, buf.subarray(off, off + 8)]);
      const ctLen = len - 24;
      return aeadOpen(s.cipher as Aead, this.key, nonce, this.header(type, ctLen),
        buf.subarray(off + 8, off + 8 + ctLen), buf.subarray(off + 8 + ctLen, off + len));
    }
    if (len < 16) return null;
    const ctLen = len - 16;
    return aeadOpen('chacha20-poly1305', this.key, xorSeq(this.iv, this.seq), this.header(type, ctLen),
      buf.subarray(off, off + ctLen), buf.subarray(off + ctLen, off + len));
  }

  private openCbc(type: number, buf: Buffer, off: number, len: number): Buffer | null {
    const s = this.suite;
    const explicitIv = this.version >= 0x0302;
    const macLen = s.macLen;
    let ctOff = off, ctLen = len;
    if (this.etm) {
      if (len < macLen + 16) return null;
      ctLen = len - macLen;
      const mac = createHmac(s.mac!, this.macKey).update(this.header(type, ctLen)).update(buf.subarray(off, off + ctLen)).digest();
      if (!timingSafeEqual(mac, buf.subarray(off + ctLen, off + len))) return null;
    }
    let iv = this.iv;
    if (explicitIv) {
      if (ctLen < 32) return null;
      iv = buf.subarray(ctOff, ctOff + 16);
      ctOff += 16; ctLen -= 16;
    }
    if (ctLen === 0 || ctLen % 16 !== 0) return null;
    let pt: Buffer;
    try {
      const d = createDecipheriv(s.cipher as Cbc, this.key, iv);
      d.setAutoPadding(false);
      pt = Buffer.concat([d.update(buf.subarray(ctOff, ctOff + ctLen)), d.final()]);
    } catch {
      return null;
    }
    if (!explicitIv) this.iv = Buffer.from(buf.subarray(ctOff + ctLen - 16, ctOff + ctLen));
    const pad = pt[pt.length - 1];
    let dataLen = pt.length - pad - 1;
    if (!this.etm) dataLen -= macLen;
    if (dataLen < 0) return null;
    if (!this.etm) {
      const mac = createHmac(s.mac!, this.macKey).update(this.header(type, dataLen)).update(pt.subarray(0, dataLen)).digest();
      if (!timingSafeEqual(mac, pt.subarray(dataLen, dataLen + macLen))) return null;
    }
    return pt.subarray(0, dataLen);
  }
}

/** Encrypts like a TLS 1.3 peer would; used by tests to build records. */
export function tls13Seal(cipher: number, secret: Buffer, seq: number, innerType: number, data: Buffer): Buffer {
  const suite = TLS13_SUITES[cipher];
  const key = hkdfExpandLabel(suite.hash, secret, 'key', Buffer.alloc(0), suite.keyLen);
  const iv = hkdfExpandLabel(suite.hash, secret, 'iv', Buffer.alloc(0), 12);
  const inner = Buffer.concat([data, Buffer.of(innerType)]);
  const len = inner.length + suite.tagLen;
  const header = Buffer.from([CT_APPLICATION_DATA, 3, 3, len >> 8, len & 0xff]);
  const c = createCipheriv(suite.aead as 'aes-128-gcm', key, xorSeq(iv, seq), { authTagLength: suite.tagLen });
  c.setAAD(header);
  const ct = Buffer.concat([c.update(inner), c.final()]);
  return Buffer.concat([header, ct, c.getAuthTag()]);
}
