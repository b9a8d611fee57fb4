/**
 * TLS record and handshake-message reassembly over one direction of a byte stream.
 *
 * Bytes arrive in order (the TCP layer reorders) but in arbitrary pieces: a record may span
 * segments and a handshake message may span records. Whole records inside one piece are handled
 * in place; only a record or message cut by a piece boundary is copied, into a buffer that grows
 * to the size the length field announces (capped). Everything is bounds-checked: bad input stops
 * this direction (`dead`), it never throws.
 */

import { parserMemory, type MemoryAccount } from '../parser-memory.js';

export const CT_CHANGE_CIPHER_SPEC = 20;
export const CT_ALERT = 21;
export const CT_HANDSHAKE = 22;
export const CT_APPLICATION_DATA = 23;

/** Largest record body (2^14 + 2048, TLS 1.2 ciphertext limit). */
export const MAX_RECORD = 16384 + 2048;
/** Largest handshake message we reassemble (certificate chains are the big ones). */
export const MAX_HANDSHAKE = 64 * 1024;
/** How many leading bytes we search for the first TLS record (SOCKS, HTTP CONNECT, STARTTLS preambles). */
export const MAX_SYNC_SCAN = 16 * 1024;

/**
 * A growable byte buffer for the pieces that straddle boundaries, drawn from the parsers' shared
 * budget and dropped once empty (an idle connection holds nothing).
 */
class Carry {
  buf: Buffer | null = null;
  len = 0;
  /** The flow `buf` is charged to. */
  private account: MemoryAccount | null = null;

  /** False when over `cap` or when the shared budget cannot hold it: the caller gives up. */
  append(src: Buffer, off: number, n: number, cap: number): boolean {
    const need = this.len + n;
    if (need > cap) return false;
    if (!this.buf || this.buf.length < need) {
      const account = parserMemory.account;
      const next = parserMemory.alloc(Math.min(cap, Math.max(need, (this.buf?.length ?? 0) * 2, 256)));
      if (next === null) return false;
      if (this.buf) {
        if (this.len) this.buf.copy(next, 0, 0, this.len);
        parserMemory.release(this.account!, this.buf.length);
      }
      this.buf = next;
      this.account = account;
    }
    src.copy(this.buf, this.len, off, off + n);
    this.len = need;
    return true;
  }

  /** Drops the first n bytes. */
  consume(n: number): void {
    if (!this.buf) return;
    if (n >= this.len) { this.clear(); return; }
    this.buf.copyWithin(0, n, this.len);
    this.len -= n;
  }

  clear(): void {
    this.len = 0;
    if (this.buf !== null) parserMemory.release(this.account!, this.buf.length);
    this.buf = null;
  }
}

/**
 * The reader's direction is passed back with each record and message, so one sink (the session)
 * serves both directions without a closure and a wrapper object per direction and connection.
 */
export interface RecordSink {
  /** A whole record body, buf[off, off+len). The buffer is only valid during the call. */
  record(dir: number, type: number, version: number, buf: Buffer, off: number, len: number): void;
}

export interface HandshakeSink {
  /** A whole handshake message body (after its 4-byte header). Only valid during the call. */
  message(dir: number, type: number, buf: Buffer, off: number, len: number): void;
}

/** True when buf[off..] starts like a TLS record header of a plausible type, version and length. */
export function looksLikeRecord(buf: Buffer, off: number, end: number, handshakeType = -1): boolean {
  if (off + 5 > end) return false;
  const type = buf[off];
  if (type < CT_CHANGE_CIPHER_SPEC || type > CT_APPLICATION_DATA) return false;
  if (buf[off + 1] !== 3 || buf[off + 2] > 4) return false;
  const len = buf.readUInt16BE(off + 3);
  if (len === 0 || len > MAX_RECORD) return false;
  if (handshakeType >= 0) return type === CT_HANDSHAKE && off + 5 < end && buf[off + 5] === handshakeType;
  return true;
}

export class RecordReader {
  /** Set once this direction gave up (not TLS, or malformed beyond repair). */
  dead = false;
  synced = false;
  private scanned = 0;
  private readonly carry = new Carry();

  /**
   * @param syncHandshakeType the handshake type (1 ClientHello, 2 ServerHello) that must open the
   *   first record when the stream does not start with TLS; -1 to require TLS from byte 0.
   */
  constructor(private readonly sink: RecordSink, private readonly dir: number, private readonly syncHandshakeType = -1) {}

  push(data: Buffer, off = 0, len = data.length - off): void {
    if (this.dead || len <= 0) return;
    let end = Math.min(data.length, off + len);
    if (!this.synced) {
      // A header cut by the last piece boundary: look at the few bytes kept plus the first new ones
      // (a tiny copy; the piece itself is scanned in place).
      let tail: Buffer = data;
      let tailEnd = end;
      if (this.carry.len > 0) {
        const kept = this.carry.len;
        const joined = Buffer.concat([this.carry.buf!.subarray(0, kept), data.subarray(off, Math.min(end, off + 6))]);
        this.carry.len = 0;
        for (let i = 0; i < kept; i++) {
          if (joined[i] === CT_HANDSHAKE && looksLikeRecord(joined, i, joined.length, this.syncHandshakeType)) {
            this.synced = true;
            this.hold(joined, i, kept - i); // the rest of the header follows in `data`
            break;
          }
        }
        if (end - off < 6) { tail = joined; tailEnd = joined.length; }
      }
      if (!this.synced) {
        const start = this.findSync(data, off, end);
        if (start < 0) {
          if (!this.dead) this.keepTail(tail, Math.max(tail === data ? off : 0, tailEnd - 5), tailEnd);
          return;
        }
        off = start;
      }
      if (this.dead) return; // the kept header bytes could not be held
    }
    // Finish a record cut by the previous piece.
    if (this.carry.len > 0) {
      if (this.carry.len < 5) {
        const take = Math.min(5 - this.carry.len, end - off);
        if (!this.hold(data, off, take)) return;
        off += take;
        if (this.carry.len < 5) return;
        if (!this.validHeader(this.carry.buf!, 0)) return;
      }
      const need = 5 + this.carry.buf!.readUInt16BE(3) - this.carry.len;
      const take = Math.min(need, end - off);
      if (!this.hold(data, off, take)) return;
      off += take;
      if (take < need) return;
      const b = this.carry.buf!;
      this.emit(b, 0);
      // Given back at once: a session whose other side never shows (a one-sided tap) would keep
      // its charge until the flow ends.
      this.carry.clear();
      if (this.dead) return;
    }
    while (off + 5 <= end) {
      if (!this.validHeader(data, off)) return;
      const rlen = data.readUInt16BE(off + 3);
      if (off + 5 + rlen > end) break;
      this.emit(data, off);
      if (this.dead) return;
      off += 5 + rlen;
    }
    if (off < end) this.hold(data, off, end - off);
  }

  /** Copies bytes of a record cut by a piece boundary; when they cannot be held, this direction stops. */
  private hold(buf: Buffer, off: number, n: number): boolean {
    if (this.carry.append(buf, off, n, MAX_RECORD + 5)) return true;
    this.dead = true;
    this.carry.clear();
    return false;
  }

  /** Keeps the last bytes of an unsynced piece if a record header could start in them. */
  private keepTail(buf: Buffer, from: number, end: number): void {
    for (let i = from; i < end; i++) {
      if (buf[i] === CT_HANDSHAKE) { this.hold(buf, i, end - i); return; }
    }
  }

  /** Gives back the bytes held for a cut record (the connection is being dropped). */
  release(): void {
    this.carry.clear();
  }

  /** After lost bytes: search for the first record again (`resync`), or stop. */
  restart(resync: boolean): void {
    this.carry.clear();
    if (!resync || this.syncHandshakeType < 0) { this.dead = true; return; }
    this.synced = false;
  }

  private emit(buf: Buffer, off: number): void {
    this.sink.record(this.dir, buf[off], buf.readUInt16BE(off + 1), buf, off + 5, buf.readUInt16BE(off + 3));
  }

  private validHeader(buf: Buffer, off: number): boolean {
    const type = buf[off];
    const ok = type >= CT_CHANGE_CIPHER_SPEC && type <= 24 && buf[off + 1] === 3 && buf.readUInt16BE(off + 3) <= MAX_RECORD;
    if (!ok) { this.dead = true; this.carry.clear(); }
    return ok;
  }

  private findSync(data: Buffer, off: number, end: number): number {
    // Bytes left from an earlier piece could hold the start of a header; keep it simple and
    // search each piece by itself: TLS after a preamble starts on a segment boundary in practice.
    if (this.syncHandshakeType < 0) {
      if (looksLikeRecord(data, off, end)) { this.synced = true; return off; }
      this.dead = true;
      return -1;
    }
    const limit = Math.min(end, off + Math.max(0, MAX_SYNC_SCAN - this.scanned));
    // indexOf (memchr) finds the candidate bytes: most streams scanned here are not TLS at all
    // (HTTP, SSH), and a byte-by-byte loop over their first 16 KiB per direction added up.
    for (let p = data.indexOf(CT_HANDSHAKE, off); p >= 0 && p < limit; p = data.indexOf(CT_HANDSHAKE, p + 1)) {
      if (looksLikeRecord(data, p, end, this.syncHandshakeType)) {
        this.synced = true;
        return p;
      }
    }
    this.scanned += end - off;
    if (this.scanned >= MAX_SYNC_SCAN) this.dead = true;
    return -1;
  }
}

/** Reassembles handshake messages from the bodies of handshake records. */
export class HandshakeReader {
  dead = false;
  private readonly carry = new Carry();

  constructor(private readonly sink: HandshakeSink, private readonly dir: number) {}

  push(data: Buffer, off: number, len: number): void {
    if (this.dead) return;
    const end = Math.min(data.length, off + len);
    if (this.carry.len > 0) {
      if (this.carry.len < 4) {
        const take = Math.min(4 - this.carry.len, end - off);
        if (!this.carry.append(data, off, take, 4)) { this.fail(); return; }
        off += take;
        if (this.carry.len < 4) return;
        if (this.carry.buf!.readUIntBE(1, 3) > MAX_HANDSHAKE) { this.fail(); return; }
      }
      const b0 = this.carry.buf!;
      const need = 4 + b0.readUIntBE(1, 3) - this.carry.len;
      const take = Math.min(need, end - off);
      if (!this.carry.append(data, off, take, MAX_HANDSHAKE + 4)) { this.fail(); return; }
      off += take;
      if (take < need) return;
      const b = this.carry.buf!;
      this.sink.message(this.dir, b[0], b, 4, b.readUIntBE(1, 3));
      this.carry.consume(this.carry.len);
      if (this.dead) return;
    }
    while (off + 4 <= end) {
      const mlen = data.readUIntBE(off + 1, 3);
      if (mlen > MAX_HANDSHAKE) { this.fail(); return; }
      if (off + 4 + mlen > end) break;
      this.sink.message(this.dir, data[off], data, off + 4, mlen);
      if (this.dead) return;
      off += 4 + mlen;
    }
    if (off < end && !this.carry.append(data, off, end - off, MAX_HANDSHAKE + 4)) this.fail();
  }

  /** Forgets a partial message (e.g. at a key change, or when the connection is dropped). */
  reset(): void {
    this.carry.clear();
  }

  private fail(): void {
    this.dead = true;
    this.carry.clear();
  }
}
