/**
 * Which TCP segments of an SSH connection count as SSH packets for JA4SSH.
 *
 * FoxIO's reference counts the frames where tshark's SSH dissector ran. That is not every segment
 * with payload: a segment in the middle of a message that TCP is still reassembling has no SSH
 * layer, nor has a retransmission, and a malformed message makes the dissector throw and lose
 * track (ssh2-malformed.pcap). SSHv1 reassembly asks for 4 bytes too few, which desynchronises
 * the rest of the stream (sshv1.pcap). So this module replays both: the SSH dissector's message
 * framing (banner, binary packets during key exchange, encrypted packets after NEWKEYS, SSHv1) and
 * TCP's desegmentation of the messages it asks for. On the way it keeps the banners and KEXINIT
 * algorithm lists (HASSH, HASSH-server).
 */
import { chooseAlgorithm, hassh, hasshServer, parseKexInit, type KexInit } from './kexinit.js';
import { need, OutOfBounds, u32, u8 } from './reader.js';
import { parserMemory, type MemoryAccount } from '../parser-memory.js';

const VERSION_UNKNOWN = 0;
const VERSION_1 = 1;
const VERSION_2 = 2;

const MSG_KEXINIT = 20;
const MSG_NEWKEYS = 21;

/** TCP's "give me the whole next segment" request. */
const ONE_MORE_SEGMENT = -1;

type KexDissector = 'dh' | 'gex' | 'ecdh';

/** The dissector wants the data from `offset` on plus `len` more bytes (or ONE_MORE_SEGMENT). */
interface Desegment {
  offset: number;
  len: number;
}

class PeerState {
  frameVersionStart = 0;
  frameVersionEnd = 0;
  frameKeyStart = 0;
  frameKeyEnd = 0;
  frameKeyEndOffset = 0;
  banner: string | null = null;
  kexinit: KexInit | null = null;
}

function startsWithCaseless(buf: Buffer, off: number, text: string): boolean {
  if (buf.length - off < text.length) return false;
  for (let i = 0; i < text.length; i++) {
    let c = buf[off + i];
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    let t = text.charCodeAt(i);
    if (t >= 0x61 && t <= 0x7a) t -= 0x20;
    if (c !== t) return false;
  }
  return true;
}

/** The SSH dissector's per-connection state, shared by both directions. */
export class SshSession {
  version = VERSION_UNKNOWN;
  kex: string | null = null;
  private kexDissector: KexDissector = 'dh';
  /** [0] client (towards port 22), [1] server. */
  readonly peers: [PeerState, PeerState] = [new PeerState(), new PeerState()];

  get clientBanner(): string | null {
    return this.peers[0].banner;
  }

  get serverBanner(): string | null {
    return this.peers[1].banner;
  }

  get hassh(): string | null {
    const k = this.peers[0].kexinit;
    return k === null ? null : hassh(k);
  }

  get hasshServer(): string | null {
    const k = this.peers[1].kexinit;
    return k === null ? null : hasshServer(k);
  }

  /** The server's first server-to-client cipher that the client also offered (FoxIO's extra field). */
  get encryptionAlgorithm(): string | null {
    const c = this.peers[0].kexinit;
    const s = this.peers[1].kexinit;
    if (c === null || s === null) return null;
    return chooseAlgorithm(s.encServerToClient, c.encClientToServer);
  }

  /**
   * Runs the dissector over one buffer (a segment, or a reassembled message) of frame `frame`.
   * Returns a desegmentation request, or null when everything was consumed. Throws OutOfBounds
   * where the real dissector throws; the caller drops the rest of the frame.
   */
  dissect(tvb: Buffer, frame: number, isResponse: boolean): Desegment | null {
    const peer = this.peers[isResponse ? 1 : 0];
    let version = this.version;
    let offset = 0;
    while (offset < tvb.length) {
      const afterVersionStart = peer.frameVersionStart === 0 || frame >= peer.frameVersionStart;
      const beforeVersionEnd = peer.frameVersionEnd === 0 || frame <= peer.frameVersionEnd;
      const last = offset;
      if (afterVersionStart && beforeVersionEnd && startsWithCaseless(tvb, offset, 'SSH-')) {
        if (peer.frameVersionStart === 0) peer.frameVersionStart = frame;
        if (!isResponse) {
          if (startsWithCaseless(tvb, offset, 'SSH-2.')) version = VERSION_2;
          else if (startsWithCaseless(tvb, offset, 'SSH-1.99-')) version = VERSION_2;
          else if (startsWithCaseless(tvb, offset, 'SSH-1.')) version = VERSION_1;
        }
        const eol = tvb.indexOf(0x0a, offset);
        if (eol < 0) {
          // The reference computes "line end - remaining" with no line end: a wrapped request.
          return { offset, len: (-1 - (tvb.length - offset)) >>> 0 };
        }
        const lineEnd = eol > offset && tvb[eol - 1] === 0x0d ? eol - 1 : eol;
        peer.banner ??= tvb.toString('latin1', offset, lineEnd);
        offset = eol + 1;
        peer.frameVersionEnd = frame;
        this.version = version;
      } else if (version === VERSION_1) {
        const r = this.ssh1(tvb, frame, offset, peer);
        if (typeof r !== 'number') return r;
        offset = r;
      } else if (version === VERSION_2) {
        const r = this.ssh2(tvb, frame, offset, peer);
        if (typeof r !== 'number') return r;
        offset = r;
      } else {
        // Unknown version: the rest is shown as one encrypted packet.
        offset = tvb.length;
      }
      if (offset <= last) break;
    }
    return null;
  }

  private ssh2(tvb: Buffer, frame: number, offset: number, peer: PeerState): number | Desegment {
    while (tvb.length - offset > 0) {
      const inKex = peer.frameKeyStart === 0 || (peer.frameKeyStart <= frame &&
        (peer.frameKeyEnd === 0 || frame < peer.frameKeyEnd || (frame === peer.frameKeyEnd && offset < peer.frameKeyEndOffset)));
      if (!inKex) return tvb.length;
      const r = this.keyExchange(tvb, frame, offset, peer);
      if (typeof r !== 'number') return r;
      offset = r;
    }
    return offset;
  }

  private keyExchange(tvb: Buffer, frame: number, offset: number, peer: PeerState): number | Desegment {
    const remain = tvb.length - offset;
    if (remain < 4) return { offset, len: ONE_MORE_SEGMENT };
    let plen = u32(tvb, offset);
    if (((plen + 4) >>> 0) > remain) return { offset, len: (plen + 4 - remain) >>> 0 };
    if (plen >= 0xffff) plen = remain - 4;
    const start = offset;
    offset += 4;
    const padding = u8(tvb, offset);
    offset += 1;
    const code = u8(tvb, offset);
    if (code >= 30 && code < 40) {
      offset = this.kexSpecific(code, tvb, offset + 1);
    } else {
      offset += 1;
      if (code === MSG_KEXINIT) {
        const { kexinit, end } = parseKexInit(tvb, offset);
        offset = end;
        if (peer.frameKeyStart === 0 || peer.frameKeyStart === frame) peer.frameKeyStart = frame;
        peer.kexinit ??= kexinit;
        const c = this.peers[0].kexinit;
        const s = this.peers[1].kexinit;
        if (c !== null && s !== null && this.kex === null) {
          this.kex = chooseAlgorithm(c.kex, s.kex);
          this.kexDissector = kexDissectorFor(this.kex);
        }
      } else if (code === MSG_NEWKEYS && peer.frameKeyEnd === 0) {
        peer.frameKeyEnd = frame;
        peer.frameKeyEndOffset = offset;
      }
    }
    // What is left of the message after the parsed fields, then the padding (unsigned, as in C).
    const len = (plen + 4 - padding - (offset - start)) >>> 0;
    if (len > 0) need(tvb, offset, len);
    offset += len;
    need(tvb, offset, padding);
    return offset + padding;
  }

  private kexSpecific(code: number, tvb: Buffer, p: number): number {
    switch (this.kexDissector) {
      case 'gex':
        switch (code) {
          case 30: need(tvb, p, 4); return p + 4;
          case 31: p = mpint(tvb, p); return mpint(tvb, p);
          case 32: return mpint(tvb, p);
          case 33: p = hostKey(tvb, p); p = mpint(tvb, p); return signature(tvb, p);
          case 34: need(tvb, p, 12); return p + 12;
          default: return p;
        }
      case 'ecdh':
        switch (code) {
          case 30: return mpint(tvb, p);
          case 31: p = hostKey(tvb, p); p = mpint(tvb, p); return signature(tvb, p);
          default: return p;
        }
      default:
        switch (code) {
          case 30: return mpint(tvb, p);
          case 31: p = hostKey(tvb, p); p = mpint(tvb, p); return signature(tvb, p);
          default: return p;
        }
    }
  }

  private ssh1(tvb: Buffer, frame: number, offset: number, peer: PeerState): number | Desegment {
    const remain = tvb.length - offset;
    if (remain < 4) return { offset, len: ONE_MORE_SEGMENT };
    let plen = u32(tvb, offset);
    const padding = 8 - (plen % 8);
    // The reference asks for plen + padding - remaining: four bytes short of the packet.
    if (((plen + 4 + padding) >>> 0) > remain) return { offset, len: (plen + padding - remain) >>> 0 };
    if (plen >= 0xffff) plen = (remain - 4 - padding) >>> 0;
    offset += 4 + padding;
    let len = plen;
    if (peer.frameKeyStart === 0 || (peer.frameKeyStart >= frame && frame <= peer.frameKeyEnd)) {
      u8(tvb, offset);
      offset += 1;
      len = (plen - 1) >>> 0;
      if (peer.frameKeyStart === 0) peer.frameKeyStart = frame;
      peer.frameKeyEnd = frame;
    }
    need(tvb, offset, len);
    return offset + len;
  }
}

function kexDissectorFor(kex: string | null): KexDissector {
  if (kex === null) return 'dh';
  if (kex === 'diffie-hellman-group-exchange-sha1' || kex === 'diffie-hellman-group-exchange-sha256') return 'gex';
  if (kex.startsWith('ecdh-sha2-') || kex.startsWith('curve25519-sha256') || kex === 'curve448-sha512' ||
    kex.startsWith('sntrup761x25519') || kex.startsWith('mlkem')) return 'ecdh';
  return 'dh';
}

/** An mpint or string: uint32 length and that many bytes. */
function mpint(tvb: Buffer, p: number): number {
  const len = u32(tvb, p);
  need(tvb, p + 4, len);
  return p + 4 + len;
}

/** A host key blob: its type decides the fields parsed inside; the blob length moves the offset. */
function hostKey(tvb: Buffer, p: number): number {
  const keyLen = u32(tvb, p);
  const typeLen = u32(tvb, p + 4);
  need(tvb, p + 8, typeLen);
  const type = tvb.toString('latin1', p + 8, p + 8 + typeLen);
  need(tvb, p + 4, keyLen);
  let q = p + 8 + typeLen;
  if (type === 'ssh-rsa') {
    q = mpint(tvb, q);
    mpint(tvb, q);
  } else if (type === 'ssh-dss') {
    q = mpint(tvb, q);
    q = mpint(tvb, q);
    q = mpint(tvb, q);
    mpint(tvb, q);
  } else if (type.startsWith('ecdsa-sha2-')) {
    q = mpint(tvb, q);
    mpint(tvb, q);
  } else if (type.startsWith('ssh-ed')) {
    mpint(tvb, q);
  } else {
    need(tvb, q, keyLen - (typeLen + 4));
  }
  return p + 4 + keyLen;
}

function signature(tvb: Buffer, p: number): number {
  const sigLen = u32(tvb, p);
  const typeLen = u32(tvb, p + 4);
  need(tvb, p + 8, typeLen);
  const type = tvb.toString('latin1', p + 8, p + 8 + typeLen);
  const q = p + 8 + typeLen;
  if (type === 'ssh-rsa' || type === 'ssh-dss') mpint(tvb, q);
  else need(tvb, q, sigLen - (typeLen + 4));
  return p + 4 + sigLen;
}

/** Signed distance a - b in 32-bit sequence space. */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** Messages TCP would buffer beyond this are followed by length only (bounded memory). */
const MAX_REASSEMBLY = 512 * 1024;

interface PendingPdu {
  /** Sequence number of the first byte. */
  start: number;
  /** Sequence number just past the bytes asked for. */
  next: number;
  /** The request was "the whole next segment". */
  entireSegment: boolean;
  parts: Buffer[] | null;
  /** Bytes in `parts`, charged to `account` (the shared parser budget). */
  bytes: number;
  account: MemoryAccount;
}

/**
 * One direction of the connection as TCP hands it to the SSH dissector: retransmitted bytes are
 * not dissected again, and a message the dissector asked to have reassembled is only dissected
 * once its last byte arrives.
 */
export class SshDirectionTracker {
  private nextSeq = 0;
  private started = false;
  private pending: PendingPdu | null = null;

  /** Drops the pending message, giving back what its parts held. */
  private dropPending(): void {
    const p = this.pending;
    if (p !== null) parserMemory.release(p.account, p.bytes);
    this.pending = null;
  }

  /** Whether the frame carrying this segment shows an SSH layer. Never throws. */
  segment(session: SshSession, seq: number, payload: Buffer, frame: number, isResponse: boolean): boolean {
    const len = payload.length;
    if (len === 0) return false;
    seq >>>= 0;
    if (this.started) {
      const d = seqDiff(seq, this.nextSeq);
      if (d < 0) {
        // Already-seen sequence space: a retransmission, not handed to the dissector.
        if (seqDiff(seq + len, this.nextSeq) > 0) this.nextSeq = (seq + len) >>> 0;
        return false;
      }
      if (d > 0 && this.pending !== null) {
        // A hole: the pending message can never complete; a segment inside it is not dissected.
        if (this.inside(seq, this.pending)) {
          this.nextSeq = (seq + len) >>> 0;
          return false;
        }
        this.dropPending();
      }
    }
    this.started = true;
    this.nextSeq = (seq + len) >>> 0;
    try {
      return this.deliver(session, seq, payload, frame, isResponse);
    } catch (err) {
      if (!(err instanceof OutOfBounds)) throw err;
      // The dissector threw: the frame has its SSH layer, the rest of it is lost.
      return true;
    }
  }

  private deliver(session: SshSession, seq: number, payload: Buffer, frame: number, isResponse: boolean): boolean {
    const pending = this.pending;
    if (pending === null) {
      this.fresh(session, seq, payload, frame, isResponse);
      return true;
    }
    if (!this.inside(seq, pending)) {
      this.dropPending();
      this.fresh(session, seq, payload, frame, isResponse);
      return true;
    }
    const len = payload.length;
    const take = pending.entireSegment ? len : Math.min(len, seqDiff(pending.next, seq));
    if (pending.parts !== null) {
      // Held until the message completes: from the shared budget, or the message is not dissected.
      const part = parserMemory.copy(payload, 0, take);
      if (part === null) {
        parserMemory.release(pending.account, pending.bytes);
        pending.bytes = 0;
        pending.parts = null;
      } else {
        pending.parts.push(part);
        pending.bytes += take;
      }
    }
    if (!pending.entireSegment && seqDiff((seq + len) >>> 0, pending.next) < 0) return false;
    // The message is complete: dissect the reassembled bytes.
    this.dropPending();
    const endSeq = (seq + take) >>> 0;
    if (pending.parts !== null) {
      const tvb = pending.parts.length === 1 ? pending.parts[0] : Buffer.concat(pending.parts);
      const req = session.dissect(tvb, frame, isResponse);
      if (req !== null && req.len !== 0) {
        this.pending = this.request(pending.start, tvb, req, endSeq);
        return true;
      }
    }
    if (take < len) this.fresh(session, endSeq, payload.subarray(take), frame, isResponse);
    return true;
  }

  private fresh(session: SshSession, seq: number, bytes: Buffer, frame: number, isResponse: boolean): void {
    const req = session.dissect(bytes, frame, isResponse);
    // A request for 0 more bytes is taken as "all consumed" by TCP.
    if (req !== null && req.len !== 0) this.pending = this.request(seq, bytes, req, (seq + bytes.length) >>> 0);
  }

  private request(tvbSeq: number, tvb: Buffer, req: Desegment, endSeq: number): PendingPdu {
    const start = (tvbSeq + req.offset) >>> 0;
    if (req.len === ONE_MORE_SEGMENT) {
      const account = parserMemory.account;
      const first = parserMemory.copy(tvb, req.offset);
      return { start, next: (endSeq + 1) >>> 0, entireSegment: true, parts: first === null ? null : [first], bytes: first?.length ?? 0, account };
    }
    const next = (endSeq + req.len) >>> 0;
    const total = seqDiff(next, start);
    const account = parserMemory.account;
    const first = total > 0 && total <= MAX_REASSEMBLY ? parserMemory.copy(tvb, req.offset) : null;
    const parts = first === null ? null : [first];
    return { start, next, entireSegment: false, parts, bytes: first?.length ?? 0, account };
  }

  private inside(seq: number, p: PendingPdu): boolean {
    if (p.entireSegment) return seqDiff(seq, p.start) >= 0 && seqDiff(seq, p.next) < 0;
    return seqDiff(seq, p.start) >= 0 && seqDiff(seq, p.next) < 0;
  }
}
