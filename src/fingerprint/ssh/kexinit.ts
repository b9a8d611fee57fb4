/**
 * SSH_MSG_KEXINIT (RFC 4253 §7.1): the cookie, ten algorithm name-lists, first_kex_packet_follows
 * and a reserved word; and HASSH / HASSH-server, the MD5 of `kex;ciphers;macs;compression` in the
 * sender's direction.
 */
import { createHash } from 'node:crypto';
import { need, u32 } from './reader.js';

export interface KexInit {
  kex: string;
  hostKey: string;
  encClientToServer: string;
  encServerToClient: string;
  macClientToServer: string;
  macServerToClient: string;
  compClientToServer: string;
  compServerToClient: string;
  langClientToServer: string;
  langServerToClient: string;
}

/** Parses a KEXINIT body starting at the cookie; returns the lists and the offset after it. Throws OutOfBounds. */
export function parseKexInit(buf: Buffer, off: number): { kexinit: KexInit; end: number } {
  need(buf, off, 16);
  let p = off + 16;
  const lists: string[] = [];
  for (let i = 0; i < 10; i++) {
    const len = u32(buf, p);
    need(buf, p + 4, len);
    lists.push(buf.toString('latin1', p + 4, p + 4 + len));
    p += 4 + len;
  }
  need(buf, p, 5);
  p += 5;
  return {
    kexinit: {
      kex: lists[0], hostKey: lists[1],
      encClientToServer: lists[2], encServerToClient: lists[3],
      macClientToServer: lists[4], macServerToClient: lists[5],
      compClientToServer: lists[6], compServerToClient: lists[7],
      langClientToServer: lists[8], langServerToClient: lists[9],
    },
    end: p,
  };
}

export function hassh(k: KexInit): string {
  return md5(`${k.kex};${k.encClientToServer};${k.macClientToServer};${k.compClientToServer}`);
}

export function hasshServer(k: KexInit): string {
  return md5(`${k.kex};${k.encServerToClient};${k.macServerToClient};${k.compServerToClient}`);
}

function md5(s: string): string {
  return createHash('md5').update(s, 'latin1').digest('hex');
}

/** The first algorithm of the client's list that the server also offers (RFC 4253 §7.1). */
export function chooseAlgorithm(client: string, server: string): string | null {
  const offered = server.split(',');
  for (const alg of client.split(',')) if (offered.includes(alg)) return alg;
  return null;
}
