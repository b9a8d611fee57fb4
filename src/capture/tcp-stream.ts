/**
 * One direction of a TCP connection turned back into the byte stream the application sent:
 * segments are delivered in sequence order, retransmitted bytes are dropped (the first copy wins),
 * and out-of-order segments wait in a bounded queue. When the queue overflows or a hole never
 * fills, the stream skips the hole and says so, rather than buffering without end.
 */
export type StreamSink = (bytes: Buffer, gap: boolean) => void;

export interface StreamLimits {
  maxPendingSegments: number;
  maxPendingBytes: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = { maxPendingSegments: 64, maxPendingBytes: 256 * 1024 };

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

  constructor(private readonly limits: StreamLimits = DEFAULT_STREAM_LIMITS) {}

  /** The SYN consumes one sequence number; data starts after it. */
  setInitialSequence(isn: number): void {
    if (!this.started) {
      this.nextSeq = (isn + 1) >>> 0;
      this.started = true;
    }
  }

  /** `data` may be a view into a capture chunk: it is copied only if it has to wait. */
  push(seq: number, data: Buffer, sink: StreamSink): void {
    if (data.length === 0) return;
    if (!this.started) {
      this.nextSeq = seq >>> 0;
      this.started = true;
    }
    const diff = seqDiff(seq, this.nextSeq);
    if (diff > 0) {
      this.enqueue(seq, data, sink);
      return;
    }
    const skip = -diff;
    if (skip >= data.length) return;
    this.deliver(skip === 0 ? data : data.subarray(skip), false, sink);
    if (this.pending !== null) this.drain(sink);
  }

  private deliver(bytes: Buffer, gap: boolean, sink: StreamSink): void {
    this.nextSeq = (this.nextSeq + bytes.length) >>> 0;
    this.delivered += bytes.length;
    sink(bytes, gap);
  }

  private enqueue(seq: number, data: Buffer, sink: StreamSink): void {
    if (this.pending === null) this.pending = [];
    const q = this.pending;
    if (q.length >= this.limits.maxPendingSegments || this.pendingBytes + data.length > this.limits.maxPendingBytes) {
      // The hole is not going to fill within our budget: give it up and resume at the earliest
      // waiting segment.
      q.sort((a, b) => seqDiff(a.seq, b.seq));
      const first = q[0];
      if (first === undefined || seqDiff(seq, first.seq) < 0) {
        this.gaps++;
        this.nextSeq = seq >>> 0;
        this.deliver(data, true, sink);
        this.drain(sink);
        return;
      }
      this.gaps++;
      this.nextSeq = first.seq;
      this.drain(sink, true);
      if (seqDiff(seq, this.nextSeq) <= 0) {
        this.push(seq, data, sink);
        return;
      }
    }
    q.push({ seq: seq >>> 0, data: Buffer.from(data) });
    this.pendingBytes += data.length;
  }

  private drain(sink: StreamSink, gapFirst = false): void {
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
      const skip = -diff;
      if (skip < head.data.length) {
        this.deliver(skip === 0 ? head.data : head.data.subarray(skip), gap, sink);
        gap = false;
      }
    }
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }
}
