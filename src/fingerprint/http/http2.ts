/**
 * The client side of an HTTP/2 connection: the connection preface, then frames. HEADERS and their
 * CONTINUATION frames are joined into header blocks and decoded with the connection's HPACK
 * decoder (so the dynamic table stays in step); blocks that carry `:method` are requests.
 */
import { HpackDecoder, type HeaderField } from './hpack.js';
import { H2_PREFACE } from './http1.js';
import { parserMemory, type MemoryAccount } from '../parser-memory.js';

const FRAME_HEADER = 9;
const TYPE_HEADERS = 0x1;
const TYPE_PUSH_PROMISE = 0x5;
const TYPE_CONTINUATION = 0x9;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;

/** Frames larger than this (the protocol maximum is 16 MB) are not worth buffering here. */
const MAX_FRAME = 1 << 20;
/** A header block spread over CONTINUATION frames is capped too. */
const MAX_HEADER_BLOCK = 256 * 1024;

export class Http2ClientReader {
  private readonly hpack = new HpackDecoder();
  private pending: Buffer | null = null;
  private pendingAccount: MemoryAccount | null = null;
  private prefaceLeft = H2_PREFACE.length;
  private block: Buffer[] | null = null;
  private blockBytes = 0;
  private blockStream = 0;
  /** Parsing gave up (malformed framing or HPACK state lost). */
  failed = false;

  constructor(expectPreface = true) {
    if (!expectPreface) this.prefaceLeft = 0;
  }

  /** Feeds client bytes; calls onRequest with each request's header list. */
  push(bytes: Buffer, onRequest: (fields: HeaderField[], streamId: number) => void): void {
    if (this.failed) return;
    let buf = bytes;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, bytes]);
      parserMemory.release(this.pendingAccount!, this.pending.length);
      this.pending = null;
    }
    let p = 0;
    if (this.prefaceLeft > 0) {
      const start = H2_PREFACE.length - this.prefaceLeft;
      const n = Math.min(this.prefaceLeft, buf.length);
      for (let i = 0; i < n; i++) {
        if (buf[i] !== H2_PREFACE[start + i]) {
          this.failed = true;
          return;
        }
      }
      this.prefaceLeft -= n;
      p = n;
    }
    while (buf.length - p >= FRAME_HEADER) {
      const length = buf.readUIntBE(p, 3);
      if (length > MAX_FRAME) {
        this.failed = true;
        return;
      }
      if (buf.length - p < FRAME_HEADER + length) break;
      const type = buf[p + 3];
      const flags = buf[p + 4];
      const streamId = buf.readUInt32BE(p + 5) & 0x7fffffff;
      const payload = buf.subarray(p + FRAME_HEADER, p + FRAME_HEADER + length);
      p += FRAME_HEADER + length;
      this.frame(type, flags, streamId, payload, onRequest);
      if (this.failed) return;
    }
    if (p < buf.length) {
      // An unfinished frame waits for the next bytes, from the shared budget (or the stream is given up).
      this.pendingAccount = parserMemory.account;
      this.pending = parserMemory.copy(buf, p);
      if (this.pending === null) this.failed = true;
    }
  }

  private frame(type: number, flags: number, streamId: number, payload: Buffer, onRequest: (fields: HeaderField[], streamId: number) => void): void {
    if (this.block !== null) {
      // Only CONTINUATION of the same stream may follow an unfinished header block.
      if (type !== TYPE_CONTINUATION || streamId !== this.blockStream) {
        this.failed = true;
        return;
      }
      this.addFragment(payload);
      if (flags & FLAG_END_HEADERS) this.finishBlock(onRequest);
      return;
    }
    if (type !== TYPE_HEADERS && type !== TYPE_PUSH_PROMISE) return;
    let start = 0;
    let end = payload.length;
    if (flags & FLAG_PADDED) {
      if (end < 1) return this.fail();
      end -= payload[0];
      start = 1;
    }
    if (type === TYPE_HEADERS && flags & FLAG_PRIORITY) start += 5;
    if (type === TYPE_PUSH_PROMISE) start += 4;
    if (start > end) return this.fail();
    this.block = [];
    this.blockBytes = 0;
    this.blockStream = streamId;
    this.addFragment(payload.subarray(start, end));
    if (flags & FLAG_END_HEADERS) this.finishBlock(onRequest);
  }

  private addFragment(fragment: Buffer): void {
    this.blockBytes += fragment.length;
    if (this.blockBytes > MAX_HEADER_BLOCK) return this.fail();
    this.block?.push(Buffer.from(fragment));
  }

  private finishBlock(onRequest: (fields: HeaderField[], streamId: number) => void): void {
    const parts = this.block;
    this.block = null;
    if (parts === null || this.failed) return;
    let fields: HeaderField[];
    try {
      fields = this.hpack.decode(parts.length === 1 ? parts[0] : Buffer.concat(parts));
    } catch {
      // The dynamic table is now unknown: later blocks cannot be trusted.
      return this.fail();
    }
    for (const f of fields) {
      if (f.name === ':method') {
        onRequest(fields, this.blockStream);
        return;
      }
    }
  }

  private fail(): void {
    this.failed = true;
    this.block = null;
    if (this.pending !== null) parserMemory.release(this.pendingAccount!, this.pending.length);
    this.pending = null;
  }
}
