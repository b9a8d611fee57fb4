/**
 * The connection table: one Flow per 5-tuple (both directions share it), created on first sight,
 * told which side is the client, and evicted when idle, when closed, or when the table is full
 * (oldest first). The cap keeps a week of SPAN traffic, or a SYN flood, in bounded memory.
 */
import { formatAddress, Packet, PROTO_TCP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from './packet.js';
import { randomFillSync } from 'node:crypto';
import { TcpStream } from './tcp-stream.js';

export interface FlowTableOptions {
  /** Most connections tracked at once; the oldest are evicted beyond it. */
  maxFlows: number;
  /** Idle time after which a connection is forgotten, in seconds of capture time. */
  tcpIdleSeconds: number;
  udpIdleSeconds: number;
  /** A TCP connection that saw FIN from both sides or a RST is dropped this soon after. */
  closedLingerSeconds: number;
}

/** Sized for a 512 MB Pi: a few KB per tracked flow keeps the table well under 100 MB. */
export const DEFAULT_FLOW_OPTIONS: FlowTableOptions = {
  maxFlows: 20000,
  tcpIdleSeconds: 600,
  udpIdleSeconds: 60,
  closedLingerSeconds: 5,
};

export class Flow {
  /** Per-analyzer state, indexed by the analyzer's slot. */
  readonly state: unknown[] = [];
  /** Fingerprints computed for this connection so far, by type. */
  readonly values: Record<string, string> = Object.create(null) as Record<string, string>;
  /** Reassembled streams: [0] client → server, [1] server → client; created on demand. */
  readonly streams: [TcpStream | null, TcpStream | null] = [null, null];
  packets = 0;
  /**
   * Initialised here, not only in the constructor: a field declared without a value starts as
   * undefined, V8 then keeps it untyped, and every per-packet store boxed a new HeapNumber.
   */
  lastTsUs = 0;
  /** Bit per analyzer slot that has finished with this flow's stream. */
  streamDoneMask = 0;
  finSeen = 0;
  closed = false;
  /** Neighbours in the table's creation order (owned by FlowTable). */
  olderFlow: Flow | null = null;
  newerFlow: Flow | null = null;
  /** Hash of the key, and the next flow in the same hash bucket (owned by FlowTable). */
  hash = 0;
  nextSameHash: Flow | null = null;
  /**
   * Opaque state of the records' consumer (the daemon's profile feed). A field, not a WeakMap
   * keyed by flow: each WeakMap entry is an ephemeron the garbage collector must trace.
   */
  consumerState: unknown = null;
  /** Bytes its protocol parsers hold between packets (fingerprint/parser-memory.ts). */
  parserBytes = 0;
  parserClosed = false;
  private serverEndpointText: string | null = null;

  constructor(
    readonly key: string,
    readonly transport: 'tcp' | 'udp',
    readonly client: string,
    readonly clientPort: number,
    readonly server: string,
    readonly serverPort: number,
    /** Whether the client is the endpoint that sorts first in the key (tells direction cheaply). */
    readonly clientIsLower: boolean,
    readonly firstTsUs: number,
    readonly firstFrame: number,
  ) {
    this.lastTsUs = firstTsUs;
  }

  /** The server as `address:port` (`[v6]:port`), made once per flow. */
  get serverEndpoint(): string {
    return this.serverEndpointText ??= this.server.includes(':') ? `[${this.server}]:${this.serverPort}` : `${this.server}:${this.serverPort}`;
  }
}

export type FlowEndHandler = (flow: Flow) => void;

/** IPv4 addresses whose text form is kept (a few hundred KB at most). */
const ADDRESS_CACHE = 4096;

/** Ports that identify the server side of a flow first seen mid-connection. */
function isServiceOrLowPort(port: number): boolean {
  return port < 1024 || port === 8080 || port === 8443 || port === 3128 || port === 1080;
}

export class FlowTable {
  /**
   * Flows by a 30-bit hash of their key, colliding flows chained through `nextSameHash`. A packet
   * is matched against the key bytes in place: building a key string per packet (and flattening
   * it for the lookup) was most of the allocation of the per-packet path.
   */
  private readonly buckets = new Map<number, Flow>();
  private count = 0;
  /**
   * Creation order as a linked list through the flows. Not a Map's own order: V8 leaves a hole per
   * deleted entry until it rehashes, so taking the Map's first entry after many deletions walks the
   * holes, and FIFO eviction under a connection flood turns quadratic.
   */
  private oldest: Flow | null = null;
  private newest: Flow | null = null;
  /** Direction of the packet passed to the last lookup(). */
  fromClient = false;
  evictedIdle = 0;
  evictedForCap = 0;
  private lastSweepUs = 0;
  /** Packets seen since the last sweep with a time more than a second before it. */
  private packetsBehind = 0;
  private readonly v4Names = new Map<number, string>();

  constructor(private readonly opts: FlowTableOptions = DEFAULT_FLOW_OPTIONS, private readonly onEnd: FlowEndHandler = () => {}) {}

  get size(): number {
    return this.count;
  }

  /** Every tracked flow, oldest first (inspection and benches; not a per-packet path). */
  *all(): IterableIterator<Flow> {
    for (let flow = this.oldest; flow !== null; flow = flow.newerFlow) yield flow;
  }

  /** Finds or creates the flow of a decoded TCP/UDP packet and sets `fromClient`. */
  lookup(pkt: Packet): Flow {
    const buf = pkt.data;
    const len = pkt.addrLen;
    const cmp = compareEndpoints(buf, pkt.srcAddrOff, pkt.srcPort, pkt.dstAddrOff, pkt.dstPort, len);
    const srcIsLower = cmp <= 0;
    const lowOff = srcIsLower ? pkt.srcAddrOff : pkt.dstAddrOff;
    const highOff = srcIsLower ? pkt.dstAddrOff : pkt.srcAddrOff;
    const lowPort = srcIsLower ? pkt.srcPort : pkt.dstPort;
    const highPort = srcIsLower ? pkt.dstPort : pkt.srcPort;
    const hash = hashKey(buf, pkt.proto, lowOff, lowPort, highOff, highPort, len);
    let flow = this.buckets.get(hash);
    while (flow !== undefined && !keyMatches(flow.key, buf, pkt.proto, lowOff, lowPort, highOff, highPort, len)) {
      flow = flow.nextSameHash ?? undefined;
    }
    if (flow === undefined) {
      const key = String.fromCharCode(pkt.proto, lowPort, highPort) +
        buf.toString('latin1', lowOff, lowOff + len) + buf.toString('latin1', highOff, highOff + len);
      flow = this.create(key, hash, pkt, srcIsLower);
    }
    this.fromClient = srcIsLower === flow.clientIsLower;
    flow.packets++;
    flow.lastTsUs = pkt.tsUs;
    if (pkt.proto === PROTO_TCP) {
      if (pkt.tcpFlags & TCP_RST) flow.closed = true;
      else if (pkt.tcpFlags & TCP_FIN) {
        flow.finSeen |= this.fromClient ? 1 : 2;
        if (flow.finSeen === 3) flow.closed = true;
      }
    }
    return flow;
  }

  private create(key: string, hash: number, pkt: Packet, srcIsLower: boolean): Flow {
    if (this.count >= this.opts.maxFlows) {
      // Not forced: a full table under a connection flood would otherwise walk every flow for every
      // new one (quadratic). Idle flows are still swept first, at most once a second of capture time.
      this.sweep(pkt.tsUs);
      if (this.count >= this.opts.maxFlows) this.evictOldest();
    }
    const srcIsClient = this.guessSrcIsClient(pkt);
    const src = this.address(pkt.data, pkt.srcAddrOff, pkt.addrLen);
    const dst = this.address(pkt.data, pkt.dstAddrOff, pkt.addrLen);
    const flow = srcIsClient
      ? new Flow(key, pkt.proto === PROTO_TCP ? 'tcp' : 'udp', src, pkt.srcPort, dst, pkt.dstPort, srcIsLower, pkt.tsUs, pkt.frame)
      : new Flow(key, pkt.proto === PROTO_TCP ? 'tcp' : 'udp', dst, pkt.dstPort, src, pkt.srcPort, !srcIsLower, pkt.tsUs, pkt.frame);
    flow.hash = hash;
    const head = this.buckets.get(hash);
    if (head !== undefined) flow.nextSameHash = head;
    this.buckets.set(hash, flow);
    this.count++;
    flow.olderFlow = this.newest;
    if (this.newest !== null) this.newest.newerFlow = flow; else this.oldest = flow;
    this.newest = flow;
    return flow;
  }

  /**
   * An address as text, IPv4 ones from a small cache: the same hosts open flow after flow, and
   * one string per host (not per flow) is also what the profiles and records then share.
   */
  private address(buf: Buffer, off: number, len: number): string {
    if (len !== 4) return formatAddress(buf, off, len);
    const k = buf[off] * 0x1000000 + ((buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]);
    let s = this.v4Names.get(k);
    if (s === undefined) {
      if (this.v4Names.size >= ADDRESS_CACHE) this.v4Names.clear(); // bounded; refills with the hosts still active
      s = formatAddress(buf, off, 4);
      this.v4Names.set(k, s);
    }
    return s;
  }

  private remove(flow: Flow): void {
    const head = this.buckets.get(flow.hash);
    if (head === flow) {
      if (flow.nextSameHash !== null) this.buckets.set(flow.hash, flow.nextSameHash);
      else this.buckets.delete(flow.hash);
    } else {
      let prev = head;
      while (prev !== undefined && prev.nextSameHash !== flow) prev = prev.nextSameHash ?? undefined;
      if (prev !== undefined) prev.nextSameHash = flow.nextSameHash;
    }
    flow.nextSameHash = null;
    this.count--;
    const older = flow.olderFlow;
    const newer = flow.newerFlow;
    if (older !== null) older.newerFlow = newer; else this.oldest = newer;
    if (newer !== null) newer.olderFlow = older; else this.newest = older;
    flow.olderFlow = flow.newerFlow = null;
  }

  private guessSrcIsClient(pkt: Packet): boolean {
    // DHCP: both ports are low, and the client's is the higher one for v4 but fixed for both.
    if (pkt.srcPort === 68 || pkt.srcPort === 546) return true;
    if (pkt.dstPort === 68 || pkt.dstPort === 546) return false;
    if (pkt.proto === PROTO_TCP) {
      const syn = (pkt.tcpFlags & TCP_SYN) !== 0;
      const ack = (pkt.tcpFlags & TCP_ACK) !== 0;
      if (syn && !ack) return true;
      if (syn && ack) return false;
    }
    // Mid-connection or UDP: the side on a well-known port is the server.
    const srcService = isServiceOrLowPort(pkt.srcPort);
    const dstService = isServiceOrLowPort(pkt.dstPort);
    if (srcService !== dstService) return dstService;
    if (srcService && dstService) return pkt.srcPort >= pkt.dstPort;
    return true;
  }

  /** sweep() at the packet's time if a second of capture time has passed (reads the time from the packet, unboxed). */
  sweepIfDue(pkt: Packet): void {
    const sinceSweep = pkt.tsUs - this.lastSweepUs;
    if (sinceSweep >= 1e6) this.sweep(pkt.tsUs);
    else if (sinceSweep <= -1e6 && ++this.packetsBehind >= 4096) {
      // Time went back (one packet stamped far ahead, a clock step, merged captures): sweeps would
      // stop until capture time caught up. Count from now instead, at most once per 4096 packets,
      // so captures that alternate between two clocks cannot make every packet sweep.
      this.lastSweepUs = pkt.tsUs;
      this.packetsBehind = 0;
    }
  }

  /** Removes flows idle past their timeout (closed ones sooner); runs at most once a second of capture time unless forced. */
  sweep(nowUs: number, force = false): void {
    if (!force && nowUs - this.lastSweepUs < 1e6) return;
    this.lastSweepUs = nowUs;
    this.packetsBehind = 0;
    const tcpIdle = this.opts.tcpIdleSeconds * 1e6;
    const udpIdle = this.opts.udpIdleSeconds * 1e6;
    const linger = this.opts.closedLingerSeconds * 1e6;
    for (let flow = this.oldest; flow !== null;) {
      const next: Flow | null = flow.newerFlow;
      const idle = nowUs - flow.lastTsUs;
      const limit = flow.closed ? linger : flow.transport === 'tcp' ? tcpIdle : udpIdle;
      if (idle > limit) {
        this.remove(flow);
        this.evictedIdle++;
        this.end(flow);
      }
      flow = next;
    }
  }

  private evictOldest(): void {
    const flow = this.oldest;
    if (flow === null) return;
    this.remove(flow);
    this.evictedForCap++;
    this.end(flow);
  }

  private end(flow: Flow): void {
    this.onEnd(flow);
    // Queued out-of-order bytes go back to the engine's reassembly budget.
    flow.streams[0]?.release();
    flow.streams[1]?.release();
  }

  /** Ends every flow (end of capture, shutdown). */
  drain(): void {
    // Creation order, as before: the order of the flows' last fingerprints at the end of a capture.
    for (let flow = this.oldest; flow !== null;) {
      const next: Flow | null = flow.newerFlow;
      this.end(flow);
      flow = next;
    }
    this.buckets.clear();
    this.count = 0;
    for (let flow = this.oldest; flow !== null;) {
      const next: Flow | null = flow.newerFlow;
      flow.olderFlow = flow.newerFlow = null;
      flow.nextSameHash = null;
      flow = next;
    }
    this.oldest = this.newest = null;
  }
}

/** Orders two endpoints by address bytes, then port. */
function compareEndpoints(buf: Buffer, aOff: number, aPort: number, bOff: number, bPort: number, len: number): number {
  for (let i = 0; i < len; i++) {
    const d = buf[aOff + i] - buf[bOff + i];
    if (d !== 0) return d;
  }
  return aPort - bPort;
}

/**
 * Simple tabulation hashing: one random word per (byte position, byte value), XORed. The table
 * is random per process, so an attacker who shapes addresses and ports cannot aim packets at one
 * bucket (a chain of colliding flows would make every lookup walk it); the key is proto, address
 * length, both ports, both addresses: at most 38 bytes.
 */
const TAB = new Int32Array(38 * 256);
randomFillSync(TAB);
const POS_LOW_ADDR = 6;
const POS_HIGH_ADDR = 22;

/** A 30-bit hash (a small-integer Map key) of a direction-free flow key given as offsets. */
function hashKey(buf: Buffer, proto: number, lowOff: number, lowPort: number, highOff: number, highPort: number, len: number): number {
  let h = TAB[proto & 0xff] ^ TAB[256 + (len & 0xff)] ^
    TAB[512 + (lowPort >> 8)] ^ TAB[768 + (lowPort & 0xff)] ^ TAB[1024 + (highPort >> 8)] ^ TAB[1280 + (highPort & 0xff)];
  for (let i = 0; i < len; i++) h ^= TAB[((POS_LOW_ADDR + i) << 8) + buf[lowOff + i]] ^ TAB[((POS_HIGH_ADDR + i) << 8) + buf[highOff + i]];
  return h & 0x3fffffff;
}

/** Whether a flow's key string (proto, ports, then both addresses as latin1) names the given endpoints. */
function keyMatches(key: string, buf: Buffer, proto: number, lowOff: number, lowPort: number, highOff: number, highPort: number, len: number): boolean {
  if (key.length !== 3 + 2 * len || key.charCodeAt(0) !== proto || key.charCodeAt(1) !== lowPort || key.charCodeAt(2) !== highPort) return false;
  for (let i = 0; i < len; i++) {
    if (key.charCodeAt(3 + i) !== buf[lowOff + i] || key.charCodeAt(3 + len + i) !== buf[highOff + i]) return false;
  }
  return true;
}
