/**
 * One direction of a TCP connection turned back into the byte stream the application sent:
 * segments are delivered in sequence order, retransmitted bytes are dropped (the first copy wins),
 * and out-of-order segments wait in a bounded queue. When the queue overflows or a hole never
 * fills, the stream skips the hole and says so, rather than buffering without end.
 */
export type StreamSink = (bytes: Buffer, gap: boolean) => void;
/** Delivery as a range of a buffer (valid only during the call): no view object per segment. */
export type StreamRangeSink = (buf: Buffer, off: number, len: number, gap: boolean) => void;

export interface StreamLimits {
  /** Out-of-order segments one direction may hold. */
  maxPendingSegments: number;
  maxPendingBytes: number;
  /**
   * Memory all the streams sharing one ReassemblyBudget (one engine) may hold, each queued segment
   * charged its bytes plus SEGMENT_OVERHEAD. Without it, a flood of connections that each fill their
   * own queue multiplies the per-stream cap by the flow cap (20,000 × 2 × 256 KiB = 10 GiB).
   */
  maxTotalBytes: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = { maxPendingSegments: 64, maxPendingBytes: 256 * 1024, maxTotalBytes: 16 * 1024 * 1024 };

/** What a queued segment costs beyond its bytes (entry, Buffer object), so tiny segments count too. */
export const SEGMENT_OVERHEAD = 160;

/** The out-of-order memory held by a set of streams; streams give theirs back on release(). */
export class ReassemblyBudget {
  used = 0;
  constructor(readonly maxBytes: number) {}
}

interface Pending {
  seq: number;
  data: Buffer;
}

/** Signed distance a - b in 32-bit sequence space. */
function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export class TcpStream {
  private nextSeq = 0;
  private started = false;
  private pending: Pending[] | null = null;
  private pendingBytes = 0;
  /** Bytes delivered so far. */
  delivered = 0;
  gaps = 0;

  constructor(private readonly limits: StreamLimits = DEFAULT_STREAM_LIMITS, private readonly budget: ReassemblyBudget | null = null) {}

  /** The SYN consumes one sequence number; data starts after it. */
  setInitialSequence(isn: number): void {
    if (!this.started) {
      this.nextSeq = (isn + 1) >>> 0;
      this.started = true;
    }
  }

  /** `data` may be a view into a capture chunk: it is copied only if it has to wait. */
  push(seq: number, data: Buffer, sink: StreamSink): void {
    this.pushRange(seq, data, 0, data.length, (b, o, l, gap) => sink(o === 0 && l === b.length ? b : b.subarray(o, o + l), gap));
  }

  /**
   * push() of buf[off, off+len), delivered as ranges: the per-packet path (the engine) makes no
   * view of the payload unless the segment has to wait (then it is copied).
   */
  pushRange(seq: number, buf: Buffer, off: number, len: number, sink: StreamRangeSink): void {
    if (len <= 0) return;
    if (!this.started) {
      this.nextSeq = seq >>> 0;
      this.started = true;
    }
    const diff = seqDiff(seq, this.nextSeq);
    if (diff > 0) {
      this.enqueue(seq, buf, off, len, sink);
      return;
    }
    const skip = -diff;
    if (skip >= len) return;
    this.deliver(buf, off + skip, len - skip, false, sink);
    if (this.pending !== null) this.drain(sink);
  }

  private deliver(buf: Buffer, off: number, len: number, gap: boolean, sink: StreamRangeSink): void {
    this.nextSeq = (this.nextSeq + len) >>> 0;
    this.delivered += len;
    sink(buf, off, len, gap);
  }

  private enqueue(seq: number, buf: Buffer, off: number, len: number, sink: StreamRangeSink): void {
    if (this.pending === null) this.pending = [];
    const q = this.pending;
    // Until the segment fits the budget (both limits; one pass may free too little), the hole is
    // not going to fill: give it up and resume at the earliest waiting segment.
    // The shared budget too: once other streams hold it all, this one stops waiting for holes.
    const budget = this.budget;
    while (q.length >= this.limits.maxPendingSegments || this.pendingBytes + len > this.limits.maxPendingBytes ||
      (budget !== null && budget.used + len + SEGMENT_OVERHEAD > budget.maxBytes)) {
      q.sort((a, b) => seqDiff(a.seq, b.seq));
      const first = q[0];
      if (first === undefined || seqDiff(seq, first.seq) < 0) {
        this.gaps++;
        this.nextSeq = seq >>> 0;
        this.deliver(buf, off, len, true, sink);
        this.drain(sink);
        return;
      }
      this.gaps++;
      this.nextSeq = first.seq;
      this.drain(sink, true);
      if (seqDiff(seq, this.nextSeq) <= 0) {
        this.pushRange(seq, buf, off, len, sink);
        return;
      }
    }
    q.push({ seq: seq >>> 0, data: Buffer.from(buf.subarray(off, off + len)) });
    this.pendingBytes += len;
    if (budget !== null) budget.used += len + SEGMENT_OVERHEAD;
  }

  private drain(sink: StreamRangeSink, gapFirst = false): void {
    const q = this.pending;
    if (q === null || q.length === 0) return;
    q.sort((a, b) => seqDiff(a.seq, b.seq));
    let gap = gapFirst;
    while (q.length > 0) {
      const head = q[0];
      const diff = seqDiff(head.seq, this.nextSeq);
      if (diff > 0) break;
      q.shift();
      this.pendingBytes -= head.data.length;
      if (this.budget !== null) this.budget.used -= head.data.length + SEGMENT_OVERHEAD;
      const skip = -diff;
      if (skip < head.data.length) {
        this.deliver(head.data, skip, head.data.length - skip, gap, sink);
        gap = false;
      }
    }
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Drops whatever is queued and returns it to the budget (the flow is gone). */
  release(): void {
    const q = this.pending;
    if (q === null) return;
    if (this.budget !== null) this.budget.used -= this.pendingBytes + q.length * SEGMENT_OVERHEAD;
    this.pending = null;
    this.pendingBytes = 0;
  }
}
