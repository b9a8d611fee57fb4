/**
 * Reassembles one QUIC CRYPTO (or STREAM) byte stream from frames that arrive in any order,
 * overlapping or repeated, and hands the in-order bytes on as they become contiguous. Pending
 * out-of-order data is capped, so a hostile peer cannot grow it without bound.
 */
import { parserMemory, type MemoryAccount } from '../parser-memory.js';

export const MAX_PENDING = 64 * 1024;

export class OrderedStream {
  /** Bytes delivered so far (the next expected offset). */
  delivered = 0;
  dead = false;
  private pending: { off: number; data: Buffer }[] = [];
  private pendingBytes = 0;
  /** The flow the pending copies are charged to. */
  private account: MemoryAccount | null = null;

  constructor(private readonly deliver: (data: Buffer, off: number, len: number) => void, private readonly cap = MAX_PENDING) {}

  insert(offset: number, buf: Buffer, off: number, len: number): void {
    if (this.dead || len <= 0) return;
    const endOff = offset + len;
    if (endOff <= this.delivered) return; // a repeat
    if (offset <= this.delivered) {
      const skip = this.delivered - offset;
      this.delivered = endOff;
      this.deliver(buf, off + skip, len - skip);
      this.drain();
      return;
    }
    if (endOff - this.delivered > this.cap || this.pendingBytes + len > this.cap) { this.release(); this.dead = true; return; }
    if (this.pendingBytes === 0) this.account = parserMemory.account;
    const data = parserMemory.copy(buf, off, off + len);
    if (data === null) { this.release(); this.dead = true; return; }
    this.pending.push({ off: offset, data });
    this.pendingBytes += len;
  }

  /** Gives back what waits out of order (the stream is given up or dropped). */
  release(): void {
    if (this.account !== null) parserMemory.release(this.account, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
  }

  private drain(): void {
    for (let progress = true; progress && this.pending.length && !this.dead; ) {
      progress = false;
      for (let i = 0; i < this.pending.length; i++) {
        const piece = this.pending[i];
        if (piece.off > this.delivered) continue;
        this.pending.splice(i, 1);
        this.pendingBytes -= piece.data.length;
        parserMemory.release(this.account!, piece.data.length);
        const endOff = piece.off + piece.data.length;
        if (endOff > this.delivered) {
          const skip = this.delivered - piece.off;
          this.delivered = endOff;
          this.deliver(piece.data, skip, piece.data.length - skip);
        }
        progress = true;
        break;
      }
    }
  }
}
