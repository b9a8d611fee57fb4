/**
 * IPv4 fragment reassembly, bounded in memory and in (capture) time: at most `maxDatagrams`
 * datagrams in progress and `maxBytes` buffered, each given up after `timeoutUs` without completing.
 * Only fragmented traffic pays for this; whole datagrams never reach it.
 */
export interface DefragLimits {
  maxDatagrams: number;
  maxBytes: number;
  timeoutUs: number;
  /**
   * Fragments kept per datagram. Each fragment re-checks coverage, so without a cap a flood of tiny
   * fragments that never fill a hole costs quadratic time. A 64 KB datagram over a 576-byte MTU is 115.
   */
  maxFragments: number;
}

export const DEFAULT_DEFRAG_LIMITS: DefragLimits = { maxDatagrams: 256, maxBytes: 2 * 1024 * 1024, timeoutUs: 30e6, maxFragments: 128 };

interface Fragment {
  offset: number;
  data: Buffer;
}

interface Datagram {
  firstSeenUs: number;
  header: Buffer | null;
  fragments: Fragment[];
  totalLen: number;
  bytes: number;
}

const MAX_DATAGRAM = 65535;

export class Ipv4Defragmenter {
  private readonly inProgress = new Map<string, Datagram>();
  private bufferedBytes = 0;
  dropped = 0;

  constructor(private readonly limits: DefragLimits = DEFAULT_DEFRAG_LIMITS) {}

  get pending(): number {
    return this.inProgress.size;
  }

  /**
   * Adds the fragment at `buf[ipOff..ipOff+ipLen)`; returns the whole datagram (header with the
   * fragment fields cleared, then the payload) once every byte has arrived, else null.
   */
  add(buf: Buffer, ipOff: number, headerLen: number, ipLen: number, tsUs: number): Buffer | null {
    this.expire(tsUs);
    const flagsFrag = buf.readUInt16BE(ipOff + 6);
    const fragOffset = (flagsFrag & 0x1fff) * 8;
    const moreFragments = (flagsFrag & 0x2000) !== 0;
    const payloadLen = ipLen - headerLen;
    if (payloadLen <= 0 || fragOffset + payloadLen > MAX_DATAGRAM) { this.dropped++; return null; }
    const key = buf.toString('latin1', ipOff + 12, ipOff + 20) + buf.toString('latin1', ipOff + 4, ipOff + 6) + String.fromCharCode(buf[ipOff + 9]);
    let dg = this.inProgress.get(key);
    if (!dg) {
      if (this.inProgress.size >= this.limits.maxDatagrams) this.evictOldest();
      dg = { firstSeenUs: tsUs, header: null, fragments: [], totalLen: -1, bytes: 0 };
      this.inProgress.set(key, dg);
    }
    if (dg.fragments.length >= this.limits.maxFragments) {
      this.drop(key, dg);
      this.dropped++;
      return null;
    }
    // Over budget: older incomplete datagrams make room (they are the likelier junk); if this one
    // alone is too big, it goes.
    while (this.bufferedBytes + payloadLen > this.limits.maxBytes && this.inProgress.size > 1) {
      const oldest = this.inProgress.entries().next().value as [string, Datagram];
      if (oldest[1] === dg) break;
      this.drop(oldest[0], oldest[1]);
      this.dropped++;
    }
    if (this.bufferedBytes + payloadLen > this.limits.maxBytes) {
      this.drop(key, dg);
      this.dropped++;
      return null;
    }
    const data = Buffer.from(buf.subarray(ipOff + headerLen, ipOff + ipLen));
    dg.fragments.push({ offset: fragOffset, data });
    dg.bytes += payloadLen;
    this.bufferedBytes += payloadLen;
    if (fragOffset === 0) dg.header = Buffer.from(buf.subarray(ipOff, ipOff + headerLen));
    if (!moreFragments) dg.totalLen = fragOffset + payloadLen;
    if (dg.header === null || dg.totalLen < 0) return null;
    return this.tryAssemble(key, dg);
  }

  private tryAssemble(key: string, dg: Datagram): Buffer | null {
    // dg.fragments stays in arrival order (the copy below depends on it); coverage is checked on a sorted copy.
    const sorted = dg.fragments.slice().sort((a, b) => a.offset - b.offset);
    let covered = 0;
    for (const f of sorted) {
      if (covered >= dg.totalLen) break; // fragments past the end (damage) must not block completion
      if (f.offset > covered) return null;
      covered = Math.max(covered, f.offset + f.data.length);
    }
    if (covered < dg.totalLen) return null;
    const header = dg.header as Buffer;
    if (header.length + dg.totalLen > MAX_DATAGRAM) {
      // The total length field cannot describe it: damage or an attack, not a datagram.
      this.drop(key, dg);
      this.dropped++;
      return null;
    }
    const out = Buffer.alloc(header.length + dg.totalLen);
    header.copy(out, 0);
    // First copy wins on overlap, as in most stacks' reassembly ("first" policy): copy in reverse
    // arrival order so the earliest arrival is written last.
    for (let i = dg.fragments.length - 1; i >= 0; i--) {
      const f = dg.fragments[i];
      if (f.offset >= dg.totalLen) continue;
      f.data.copy(out, header.length + f.offset, 0, Math.min(f.data.length, dg.totalLen - f.offset));
    }
    out.writeUInt16BE(out.length, 2);
    out.writeUInt16BE(0, 6);
    this.drop(key, dg);
    return out;
  }

  private expire(nowUs: number): void {
    for (const [key, dg] of this.inProgress) {
      // One stamped far ahead (a bad clock, a merged capture) would otherwise stop expiry behind it.
      const age = nowUs - dg.firstSeenUs;
      if (age <= this.limits.timeoutUs && age >= -this.limits.timeoutUs) break;
      this.drop(key, dg);
      this.dropped++;
    }
  }

  private evictOldest(): void {
    const first = this.inProgress.entries().next();
    if (!first.done) {
      this.drop(first.value[0], first.value[1]);
      this.dropped++;
    }
  }

  private drop(key: string, dg: Datagram): void {
    this.bufferedBytes -= dg.bytes;
    this.inProgress.delete(key);
  }
}
