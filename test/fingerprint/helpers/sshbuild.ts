/** Builders for hand-made SSH binary packets (RFC 4253 §6) used by the tests. */

export function sshString(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

/** packet_length, padding_length, payload, padding (4 bytes of padding unless given). */
export function sshPacket(payload: Buffer, padding = 4): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + payload.length + padding);
  head[4] = padding;
  return Buffer.concat([head, payload, Buffer.alloc(padding)]);
}

export interface KexLists {
  kex: string; hostKey: string; encC2S: string; encS2C: string; macC2S: string; macS2C: string; compC2S: string; compS2C: string;
}

export const OPENSSH_LISTS: KexLists = {
  kex: 'curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256',
  hostKey: 'ssh-ed25519,rsa-sha2-512',
  encC2S: 'chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com',
  encS2C: 'chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com',
  macC2S: 'umac-64-etm@openssh.com,hmac-sha2-256', macS2C: 'umac-64-etm@openssh.com,hmac-sha2-256',
  compC2S: 'none,zlib@openssh.com', compS2C: 'none,zlib@openssh.com',
};

export function kexinitPayload(l: KexLists, filler = 0): Buffer {
  return Buffer.concat([
    Buffer.of(20), Buffer.alloc(16, 0xab),
    sshString(l.kex), sshString(l.hostKey), sshString(l.encC2S), sshString(l.encS2C),
    sshString(l.macC2S), sshString(l.macS2C), sshString(l.compC2S), sshString(l.compS2C),
    sshString(''), sshString('x'.repeat(filler)), Buffer.of(0), Buffer.alloc(4),
  ]);
}

export const NEWKEYS = sshPacket(Buffer.of(21), 10);
