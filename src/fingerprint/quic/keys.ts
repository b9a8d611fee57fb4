/**
 * QUIC packet protection keys (RFC 9001 §5, RFC 9369 for v2): Initial secrets from the client's
 * Destination Connection ID, keys from TLS traffic secrets, header protection masks.
 */
import { createCipheriv, type Cipher } from 'node:crypto';
import { HmacKey, hkdfExpandLabel, hkdfExtract, type HashName } from '../decrypt/hkdf.js';

export const QUIC_V1 = 0x00000001;
export const QUIC_V2 = 0x6b3343cf;

/** The Initial salts as prepared HMAC keys: every connection's first derivation is keyed by one of them. */
const SALT_V1 = new HmacKey('sha256', Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex'));
const SALT_V2 = new HmacKey('sha256', Buffer.from('0dede3def700a6db819381be6e269dcbf9bd2ed9', 'hex'));
const SALT_DRAFT29 = new HmacKey('sha256', Buffer.from('afbfec289993d24c9e9786f19c6111e04390a899', 'hex'));

function initialSalt(version: number): HmacKey | null {
  if (version === QUIC_V1) return SALT_V1;
  if (version === QUIC_V2) return SALT_V2;
  if (version >= 0xff00001d && version <= 0xff000020) return SALT_DRAFT29;
  return null;
}

export function isSupportedVersion(version: number): boolean {
  return initialSalt(version) !== null;
}

export type QuicAead = 'aes-128-gcm' | 'aes-256-gcm' | 'chacha20-poly1305';

export interface PacketKeys {
  aead: QuicAead;
  key: Buffer;
  iv: Buffer;
  hp: Buffer;
  hash: HashName;
  /** The secret these keys came from (for key updates). */
  secret: Buffer;
  version: number;
  /**
   * AES-ECB header-protection cipher, made on first use and kept: ECB with padding off is
   * stateless between 16-byte blocks, so one object serves every packet of the connection.
   */
  hpCipher?: Cipher;
}

function labels(version: number): { key: string; iv: string; hp: string; ku: string } {
  return version === QUIC_V2
    ? { key: 'quicv2 key', iv: 'quicv2 iv', hp: 'quicv2 hp', ku: 'quicv2 ku' }
    : { key: 'quic key', iv: 'quic iv', hp: 'quic hp', ku: 'quic ku' };
}

const SUITES: Record<number, { aead: QuicAead; keyLen: number; hash: HashName }> = {
  0x1301: { aead: 'aes-128-gcm', keyLen: 16, hash: 'sha256' },
  0x1302: { aead: 'aes-256-gcm', keyLen: 32, hash: 'sha384' },
  0x1303: { aead: 'chacha20-poly1305', keyLen: 32, hash: 'sha256' },
};

/** HKDF-Expand-Label with the empty context every QUIC derivation uses. */
function expandLabel(hash: HashName, secret: Buffer | HmacKey, label: string, length: number): Buffer {
  return hkdfExpandLabel(hash, secret, label, EMPTY, length);
}
const EMPTY: Buffer = Buffer.alloc(0);

/** Packet keys for a TLS traffic secret under the given cipher suite; null for an unsupported suite. */
export function keysFromSecret(secret: Buffer, cipher: number, version: number): PacketKeys | null {
  const s = SUITES[cipher];
  if (!s) return null;
  const l = labels(version);
  const prk = new HmacKey(s.hash, secret); // three expansions of one secret
  return {
    aead: s.aead,
    key: expandLabel(s.hash, prk, l.key, s.keyLen),
    iv: expandLabel(s.hash, prk, l.iv, 12),
    hp: expandLabel(s.hash, prk, l.hp, s.keyLen),
    hash: s.hash,
    secret,
    version,
  };
}

/** The next 1-RTT generation after a key update (the header protection key does not change). */
export function nextGeneration(k: PacketKeys, cipher: number): PacketKeys | null {
  const s = SUITES[cipher];
  if (!s) return null;
  const secret = expandLabel(s.hash, k.secret, labels(k.version).ku, k.secret.length);
  const next = keysFromSecret(secret, cipher, k.version);
  if (next) { next.hp = k.hp; next.hpCipher = k.hpCipher; }
  return next;
}

/**
 * Initial packet keys for both sides of a connection. Each side's keys are derived on first use:
 * a capture often holds a client's Initials without the server's (one-sided taps, scanners,
 * unanswered attempts), and the server side's derivation is four HMACs a connection.
 */
export class InitialKeys {
  private clientKeys: PacketKeys | null = null;
  private serverKeys: PacketKeys | null = null;

  private readonly initialSecret: HmacKey;

  constructor(initialSecret: Buffer, private readonly version: number) {
    this.initialSecret = new HmacKey('sha256', initialSecret);
  }

  get client(): PacketKeys {
    return this.clientKeys ??= keysFromSecret(expandLabel('sha256', this.initialSecret, 'client in', 32), 0x1301, this.version)!;
  }

  get server(): PacketKeys {
    return this.serverKeys ??= keysFromSecret(expandLabel('sha256', this.initialSecret, 'server in', 32), 0x1301, this.version)!;
  }

  /** The keys that protect the Initials one side sends. */
  of(fromClient: boolean): PacketKeys {
    return fromClient ? this.client : this.server;
  }
}

/** Initial packet keys for both sides from the client's first Destination Connection ID. */
export function quicInitialKeys(dcid: Buffer, version: number): InitialKeys | null {
  const salt = initialSalt(version);
  if (!salt) return null;
  return new InitialKeys(hkdfExtract('sha256', salt, dcid), version);
}

/** The 5-byte header protection mask for a 16-byte sample. */
export function headerMask(keys: PacketKeys, sample: Buffer): Buffer {
  if (keys.aead === 'chacha20-poly1305') {
    const c = createCipheriv('chacha20', keys.hp, sample);
    return c.update(Buffer.alloc(5));
  }
  let c = keys.hpCipher;
  if (c === undefined) {
    c = createCipheriv(keys.aead === 'aes-256-gcm' ? 'aes-256-ecb' : 'aes-128-ecb', keys.hp, null);
    c.setAutoPadding(false);
    keys.hpCipher = c;
  }
  return c.update(sample);
}
