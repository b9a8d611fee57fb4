/**
 * HTTP/1.x requests out of a client byte stream: request heads are parsed as they complete and
 * bodies (Content-Length or chunked) are skipped to find the next request on a kept-alive
 * connection. A stream that does not look like HTTP, a CONNECT tunnel or a head beyond the size cap
 * ends parsing; a client that switches to HTTP/2 (prior knowledge or h2c upgrade) is handed over.
 */
import type { Http1Request } from '../ja4h.js';
import type { HeaderField } from './hpack.js';
import { asciiString } from './text.js';
import { parserMemory, type MemoryAccount } from '../parser-memory.js';

/** The HTTP/2 connection preface a client sends first. */
export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Request heads larger than this are not HTTP we fingerprint (bounded memory). */
export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_METHOD = 24;
const MAX_CHUNK_LINE = 1024;

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;

const enum State { Head, Body, ChunkSize, ChunkData, ChunkDataEnd, Trailers, Stopped, Http2 }

export type Http1Outcome = 'continue' | 'stopped' | 'http2';

export class Http1RequestReader {
  private state = State.Head;
  private pending: Buffer | null = null;
  private pendingAccount: MemoryAccount | null = null;
  private bodyLeft = 0;
  /** Bytes after the switch to HTTP/2, for the HTTP/2 reader. */
  http2Leftover: Buffer | null = null;

  get stopped(): boolean {
    return this.state === State.Stopped || this.state === State.Http2;
  }

  /** Feeds client bytes; calls onRequest for each complete request head. */
  push(bytes: Buffer, onRequest: (req: Http1Request) => void): Http1Outcome {
    if (this.state === State.Stopped) return 'stopped';
    if (this.state === State.Http2) return 'http2';
    let buf = bytes;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, bytes]);
      this.dropPending();
    }
    let p = 0;
    while (p < buf.length) {
      switch (this.state) {
        case State.Head: {
          if (startsWithPrefix(buf, p, H2_PREFACE)) {
            if (buf.length - p < H2_PREFACE.length) return this.keep(buf, p);
            this.state = State.Http2;
            this.http2Leftover = Buffer.from(buf.subarray(p));
            return 'http2';
          }
          if (!looksLikeRequestStart(buf, p)) return this.stop();
          const headEnd = findHeadEnd(buf, p);
          if (headEnd < 0) {
            if (buf.length - p > MAX_HEAD_BYTES) return this.stop();
            return this.keep(buf, p);
          }
          const req = parseRequestHead(buf, p, headEnd);
          p = headEnd;
          if (req === null) return this.stop();
          onRequest(req);
          if (req.method === 'CONNECT') return this.stop();
          this.startBody(req.headers);
          break;
        }
        case State.Body: {
          const n = Math.min(this.bodyLeft, buf.length - p);
          p += n;
          this.bodyLeft -= n;
          if (this.bodyLeft === 0) this.state = State.Head;
          break;
        }
        case State.ChunkSize: {
          const eol = buf.indexOf(LF, p);
          if (eol < 0) {
            if (buf.length - p > MAX_CHUNK_LINE) return this.stop();
            return this.keep(buf, p);
          }
          const size = parseChunkSize(buf, p, eol);
          if (size < 0) return this.stop();
          p = eol + 1;
          if (size === 0) this.state = State.Trailers;
          else {
            this.bodyLeft = size;
            this.state = State.ChunkData;
          }
          break;
        }
        case State.ChunkData: {
          const n = Math.min(this.bodyLeft, buf.length - p);
          p += n;
          this.bodyLeft -= n;
          if (this.bodyLeft === 0) this.state = State.ChunkDataEnd;
          break;
        }
        case State.ChunkDataEnd: {
          // The CRLF after chunk data.
          const eol = buf.indexOf(LF, p);
          if (eol < 0) {
            if (buf.length - p > 2) return this.stop();
            return this.keep(buf, p);
          }
          p = eol + 1;
          this.state = State.ChunkSize;
          break;
        }
        case State.Trailers: {
          const eol = buf.indexOf(LF, p);
          if (eol < 0) {
            if (buf.length - p > MAX_HEAD_BYTES) return this.stop();
            return this.keep(buf, p);
          }
          const empty = eol === p || (eol === p + 1 && buf[p] === CR);
          p = eol + 1;
          if (empty) this.state = State.Head;
          break;
        }
        default:
          return 'stopped';
      }
    }
    return 'continue';
  }

  private startBody(headers: readonly HeaderField[]): void {
    let length = 0;
    let chunked = false;
    for (const h of headers) {
      const name = h.name.toLowerCase();
      if (name === 'transfer-encoding' && h.value.toLowerCase().includes('chunked')) chunked = true;
      else if (name === 'content-length') {
        const n = Number.parseInt(h.value.trim(), 10);
        if (Number.isFinite(n) && n > 0) length = n;
      }
    }
    if (chunked) this.state = State.ChunkSize;
    else if (length > 0) {
      this.bodyLeft = length;
      this.state = State.Body;
    } else this.state = State.Head;
  }

  /** Keeps an unfinished head for the next bytes, from the shared budget (or gives up on the stream). */
  private keep(buf: Buffer, p: number): Http1Outcome {
    this.pendingAccount = parserMemory.account;
    this.pending = parserMemory.copy(buf, p);
    return this.pending === null ? this.stop() : 'continue';
  }

  private dropPending(): void {
    if (this.pending !== null) parserMemory.release(this.pendingAccount!, this.pending.length);
    this.pending = null;
  }

  private stop(): Http1Outcome {
    this.state = State.Stopped;
    this.dropPending();
    return 'stopped';
  }
}

function startsWithPrefix(buf: Buffer, p: number, prefix: Buffer): boolean {
  const n = Math.min(prefix.length, buf.length - p);
  for (let i = 0; i < n; i++) if (buf[p + i] !== prefix[i]) return false;
  return n > 0;
}

/** A method token (letters, digits, '-', '_') followed by a space, as far as the bytes go. */
function looksLikeRequestStart(buf: Buffer, p: number): boolean {
  const end = Math.min(buf.length, p + MAX_METHOD + 1);
  for (let i = p; i < end; i++) {
    const c = buf[i];
    if (c === SP) return i > p;
    const ok = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
    if (!ok) return false;
  }
  return end - p <= MAX_METHOD;
}

/** Offset just past the blank line that ends the head, or -1. Lines may end in CRLF or LF. */
export function findHeadEnd(buf: Buffer, p: number): number {
  let i = buf.indexOf(LF, p);
  while (i >= 0 && i + 1 < buf.length) {
    if (buf[i + 1] === LF) return i + 2;
    if (buf[i + 1] === CR && i + 2 < buf.length && buf[i + 2] === LF) return i + 3;
    i = buf.indexOf(LF, i + 1);
  }
  return -1;
}

/** Parses `METHOD SP target SP HTTP/x.y` and the header lines of buf[start, end). */
export function parseRequestHead(buf: Buffer, start: number, end: number): Http1Request | null {
  let lineEnd = buf.indexOf(LF, start);
  if (lineEnd < 0 || lineEnd >= end) return null;
  const sp1 = buf.indexOf(SP, start);
  if (sp1 < 0 || sp1 >= lineEnd) return null;
  // Method, target and version are the first two space-separated tokens and the rest of the line,
  // as Wireshark splits them: a target with a space in it leaves a version that is not HTTP/x.y.
  const sp2 = buf.indexOf(SP, sp1 + 1);
  if (sp2 < 0 || sp2 >= lineEnd) return null;
  const method = asciiString(buf, start, sp1);
  const version = asciiString(buf, sp2 + 1, trimCr(buf, sp2 + 1, lineEnd));
  if (!version.startsWith('HTTP/')) return null;
  const headers: HeaderField[] = [];
  let p = lineEnd + 1;
  while (p < end) {
    lineEnd = buf.indexOf(LF, p);
    if (lineEnd < 0 || lineEnd >= end) lineEnd = end;
    const contentEnd = trimCr(buf, p, lineEnd);
    if (contentEnd === p) break;
    // A line starting with white space continues the previous header (obsolete folding).
    if (buf[p] !== SP && buf[p] !== HT) {
      const colon = buf.indexOf(0x3a, p);
      if (colon >= 0 && colon < contentEnd) {
        let v = colon + 1;
        while (v < contentEnd && (buf[v] === SP || buf[v] === HT)) v++;
        headers.push({ name: asciiString(buf, p, colon), value: asciiString(buf, v, contentEnd) });
      }
    }
    p = lineEnd + 1;
  }
  return { method, version, headers };
}

function trimCr(buf: Buffer, start: number, lineEnd: number): number {
  return lineEnd > start && buf[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
}

/** Hex chunk size before any extension; -1 when malformed or absurd. */
function parseChunkSize(buf: Buffer, p: number, eol: number): number {
  let size = 0;
  let digits = 0;
  for (let i = p; i < eol; i++) {
    const c = buf[i];
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else break;
    size = size * 16 + d;
    if (++digits > 12) return -1;
  }
  return digits === 0 ? -1 : size;
}
