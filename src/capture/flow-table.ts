/**
 * The connection table: one Flow per 5-tuple (both directions share it), created on first sight,
 * told which side is the client, and evicted when idle, when closed, or when the table is full
 * (oldest first). The cap keeps a week of SPAN traffic, or a SYN flood, in bounded memory.
 */
import { Packet, PROTO_TCP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from './packet.js';
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
  lastTsUs: number;
  /** Bit per analyzer slot that has finished with this flow's stream. */
  streamDoneMask = 0;
  finSeen = 0;
  closed = false;

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
}

export type FlowEndHandler = (flow: Flow) => void;

/** Ports that identify the server side of a flow first seen mid-connection. */
function isServiceOrLowPort(port: number): boolean {
  return port < 1024 || port === 8080 || port === 8443 || port === 3128 || port === 1080;
}

export class FlowTable {
  private readonly flows = new Map<string, Flow>();
  /** Direction of the packet passed to the last lookup(). */
  fromClient = false;
  evictedIdle = 0;
  evictedForCap = 0;
  private lastSweepUs = 0;

  constructor(private readonly opts: FlowTableOptions = DEFAULT_FLOW_OPTIONS, private readonly onEnd: FlowEndHandler = () => {}) {}

  get size(): number {
    return this.flows.size;
  }

  /** Finds or creates the flow of a decoded TCP/UDP packet and sets `fromClient`. */
  lookup(pkt: Packet): Flow {
    const buf = pkt.data;
    const cmp = compareEndpoints(buf, pkt.srcAddrOff, pkt.srcPort, pkt.dstAddrOff, pkt.dstPort, pkt.addrLen);
    const srcIsLower = cmp <= 0;
    const lowOff = srcIsLower ? pkt.srcAddrOff : pkt.dstAddrOff;
    const highOff = srcIsLower ? pkt.dstAddrOff : pkt.srcAddrOff;
    const lowPort = srcIsLower ? pkt.srcPort : pkt.dstPort;
    const highPort = srcIsLower ? pkt.dstPort : pkt.srcPort;
    const key = String.fromCharCode(pkt.proto, lowPort, highPort) +
      buf.toString('latin1', lowOff, lowOff + pkt.addrLen) + buf.toString('latin1', highOff, highOff + pkt.addrLen);
    let flow = this.flows.get(key);
    if (flow === undefined) {
      flow = this.create(key, pkt, srcIsLower);
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

  private create(key: string, pkt: Packet, srcIsLower: boolean): Flow {
    if (this.flows.size >= this.opts.maxFlows) {
      this.sweep(pkt.tsUs, true);
      if (this.flows.size >= this.opts.maxFlows) this.evictOldest();
    }
    const srcIsClient = this.guessSrcIsClient(pkt);
    const src = pkt.srcAddr();
    const dst = pkt.dstAddr();
    const flow = srcIsClient
      ? new Flow(key, pkt.proto === PROTO_TCP ? 'tcp' : 'udp', src, pkt.srcPort, dst, pkt.dstPort, srcIsLower, pkt.tsUs, pkt.frame)
      : new Flow(key, pkt.proto === PROTO_TCP ? 'tcp' : 'udp', dst, pkt.dstPort, src, pkt.srcPort, !srcIsLower, pkt.tsUs, pkt.frame);
    this.flows.set(key, flow);
    return flow;
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

  /** Removes flows idle past their timeout (closed ones sooner); runs at most once a second of capture time unless forced. */
  sweep(nowUs: number, force = false): void {
    if (!force && nowUs - this.lastSweepUs < 1e6) return;
    this.lastSweepUs = nowUs;
    const tcpIdle = this.opts.tcpIdleSeconds * 1e6;
    const udpIdle = this.opts.udpIdleSeconds * 1e6;
    const linger = this.opts.closedLingerSeconds * 1e6;
    for (const [key, flow] of this.flows) {
      const idle = nowUs - flow.lastTsUs;
      const limit = flow.closed ? linger : flow.transport === 'tcp' ? tcpIdle : udpIdle;
      if (idle > limit) {
        this.flows.delete(key);
        this.evictedIdle++;
        this.onEnd(flow);
      }
    }
  }

  private evictOldest(): void {
    // Map iteration is insertion order: the first entry is the oldest flow.
    const first = this.flows.entries().next();
    if (first.done) return;
    this.flows.delete(first.value[0]);
    this.evictedForCap++;
    this.onEnd(first.value[1]);
  }

  /** Ends every flow (end of capture, shutdown). */
  drain(): void {
    for (const flow of this.flows.values()) this.onEnd(flow);
    this.flows.clear();
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
