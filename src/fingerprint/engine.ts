/**
 * Per-packet dispatch: decode, find the flow, reassemble TCP where an analyzer wants the stream,
 * and hand the packet to each active analyzer. Fingerprints come out through `onRecord`.
 */
import { Decoder } from '../capture/decode.js';
import { DEFAULT_FLOW_OPTIONS, Flow, FlowTable, type FlowTableOptions } from '../capture/flow-table.js';
import { Packet, PROTO_TCP, PROTO_UDP, TCP_SYN } from '../capture/packet.js';
import type { RawFrame } from '../capture/capture-reader.js';
import { DEFAULT_STREAM_LIMITS, ReassemblyBudget, TcpStream, type StreamLimits } from '../capture/tcp-stream.js';
import type { Analyzer, AnalyzerContext, AnalyzerFactory, EngineOptions } from './analyzer.js';
import { ALL_METHODS, type FingerprintRecord, type FingerprintType } from './record.js';
import { ANALYZER_FACTORIES } from './analyzers.js';
import { parserMemory } from './parser-memory.js';

export type RecordHandler = (record: FingerprintRecord, flow: Flow) => void;

export interface EngineConfig {
  methods?: Iterable<FingerprintType>;
  sshWindowPackets?: number;
  /** Extra fields in records (EngineOptions.details); on unless switched off. */
  details?: boolean;
  flows?: Partial<FlowTableOptions>;
  streams?: Partial<StreamLimits>;
  /** Analyzer set override (tests); defaults to every registered family. */
  factories?: readonly AnalyzerFactory[];
}

export interface EngineStats {
  frames: number;
  decoded: number;
  fingerprints: number;
  flows: number;
}

class Context implements AnalyzerContext {
  constructor(readonly slot: number, private readonly engine: FingerprintEngine, readonly options: EngineOptions) {}

  enabled(type: FingerprintType): boolean {
    return this.options.methods.has(type);
  }

  emit(flow: Flow, type: FingerprintType, value: string, frame: number, extra?: Record<string, unknown>): void {
    this.engine.emit(flow, type, value, frame, extra);
  }

  streamDone(flow: Flow): void {
    flow.streamDoneMask |= 1 << this.slot;
  }

  deliverPlaintext(flow: Flow, fromClient: boolean, bytes: Buffer, pkt: Packet, alpn: string | null): void {
    this.engine.deliverPlaintext(flow, fromClient, bytes, pkt, alpn);
  }
}

export class FingerprintEngine {
  readonly options: EngineOptions;
  readonly decoder = new Decoder();
  readonly flows: FlowTable;
  readonly stats: EngineStats = { frames: 0, decoded: 0, fingerprints: 0, flows: 0 };
  private readonly analyzers: Analyzer[] = [];
  private readonly contexts: Context[] = [];
  /** Slots whose onPacket reads TCP packets, and UDP ones: a call per packet per analyzer adds up. */
  private readonly tcpPacketAnalyzers: number[] = [];
  private readonly udpPacketAnalyzers: number[] = [];
  private readonly streamAnalyzers: number[] = [];
  private readonly plaintextAnalyzers: number[] = [];
  private readonly endAnalyzers: number[] = [];
  /** Bits of every stream analyzer: when a flow's done-mask covers it, reassembly stops. */
  private streamMaskAll = 0;
  private readonly pkt = new Packet();
  private readonly streamLimits: StreamLimits;
  /** Out-of-order bytes held by all of this engine's TCP streams together (streams.maxTotalBytes). */
  readonly reassemblyBudget: ReassemblyBudget;
  /** Capture time of the packet being handled (or the last one), microseconds. */
  lastTsUs = 0;

  constructor(private readonly onRecord: RecordHandler, config: EngineConfig = {}) {
    this.options = {
      methods: new Set(config.methods ?? ALL_METHODS),
      sshWindowPackets: config.sshWindowPackets ?? 200,
      details: config.details ?? true,
    };
    this.streamLimits = { ...DEFAULT_STREAM_LIMITS, ...config.streams };
    this.reassemblyBudget = new ReassemblyBudget(this.streamLimits.maxTotalBytes);
    this.flows = new FlowTable({ ...DEFAULT_FLOW_OPTIONS, ...config.flows }, (flow) => this.endFlow(flow));
    for (const factory of config.factories ?? ANALYZER_FACTORIES) {
      const analyzer = factory(this.options);
      if (!analyzer.methods.some((m) => this.options.methods.has(m))) continue;
      const slot = this.analyzers.length;
      if (slot >= 30) throw new Error('too many analyzers for the stream done-mask');
      this.analyzers.push(analyzer);
      this.contexts.push(new Context(slot, this, this.options));
      if (analyzer.onPacket) {
        const transports = analyzer.packetTransports ?? ['tcp', 'udp'];
        if (transports.includes('tcp')) this.tcpPacketAnalyzers.push(slot);
        if (transports.includes('udp')) this.udpPacketAnalyzers.push(slot);
      }
      if (analyzer.wantsStream && analyzer.onStream) {
        this.streamAnalyzers.push(slot);
        this.streamMaskAll |= 1 << slot;
      }
      if (analyzer.onPlaintext) this.plaintextAnalyzers.push(slot);
      if (analyzer.onFlowEnd) this.endAnalyzers.push(slot);
    }
  }

  get activeAnalyzers(): readonly string[] {
    return this.analyzers.map((a) => a.name);
  }

  /** Key material for decryption (pcapng DSB or a key-log file). */
  addSecrets(secretsType: number, data: Buffer): void {
    for (const a of this.analyzers) a.onSecrets?.(secretsType, data);
  }

  handleFrame(frame: RawFrame): void {
    this.stats.frames++;
    const pkt = this.pkt;
    pkt.frame = frame.frame;
    pkt.tsUs = frame.tsUs;
    this.lastTsUs = frame.tsUs;
    if (!this.decoder.decode(frame.linkType, frame.data, pkt)) return;
    if (pkt.proto !== PROTO_TCP && pkt.proto !== PROTO_UDP) return;
    this.stats.decoded++;
    this.flows.sweepIfDue(pkt);
    const flow = this.flows.lookup(pkt);
    const fromClient = this.flows.fromClient;
    parserMemory.account = flow; // what the parsers copy while handling this packet is the flow's
    const pa = pkt.proto === PROTO_TCP ? this.tcpPacketAnalyzers : this.udpPacketAnalyzers;
    for (let i = 0; i < pa.length; i++) {
      const slot = pa[i];
      (this.analyzers[slot].onPacket as NonNullable<Analyzer['onPacket']>)(pkt, flow, fromClient, this.contexts[slot]);
    }
    if (pkt.proto === PROTO_TCP && this.streamMaskAll !== 0 && (flow.streamDoneMask & this.streamMaskAll) !== this.streamMaskAll) {
      this.reassemble(pkt, flow, fromClient);
    }
  }

  private reassemble(pkt: Packet, flow: Flow, fromClient: boolean): void {
    const dir = fromClient ? 0 : 1;
    let stream = flow.streams[dir];
    if (pkt.tcpFlags & TCP_SYN) {
      if (stream === null) stream = flow.streams[dir] = new TcpStream(this.streamLimits, this.reassemblyBudget);
      stream.setInitialSequence(pkt.seq);
    }
    if (pkt.payloadLen === 0) return;
    if (stream === null) stream = flow.streams[dir] = new TcpStream(this.streamLimits, this.reassemblyBudget);
    // One bound sink for every delivery: the flow and direction travel in fields, not a fresh closure per packet.
    this.streamFlow = flow;
    this.streamFromClient = fromClient;
    stream.pushRange(pkt.seq, pkt.data, pkt.payloadOff, pkt.payloadLen, this.streamSink);
  }

  private streamFlow: Flow | null = null;
  private streamFromClient = false;
  private readonly streamSink = (buf: Buffer, off: number, len: number, gap: boolean): void => {
    const flow = this.streamFlow as Flow;
    const sa = this.streamAnalyzers;
    for (let i = 0; i < sa.length; i++) {
      const slot = sa[i];
      if (flow.streamDoneMask & (1 << slot)) continue;
      (this.analyzers[slot].onStream as NonNullable<Analyzer['onStream']>)(flow, this.streamFromClient, buf, off, len, gap, this.pkt, this.contexts[slot]);
    }
  };

  deliverPlaintext(flow: Flow, fromClient: boolean, bytes: Buffer, pkt: Packet, alpn: string | null): void {
    for (const slot of this.plaintextAnalyzers) {
      (this.analyzers[slot].onPlaintext as NonNullable<Analyzer['onPlaintext']>)(flow, fromClient, bytes, pkt, alpn, this.contexts[slot]);
    }
  }

  emit(flow: Flow, type: FingerprintType, value: string, frame: number, extra?: Record<string, unknown>): void {
    if (!this.options.methods.has(type)) return;
    this.stats.fingerprints++;
    flow.values[type] = value;
    const record: FingerprintRecord = {
      type, value, frame, transport: flow.transport,
      src: flow.client, src_port: flow.clientPort, dst: flow.server, dst_port: flow.serverPort,
    };
    if (extra !== undefined && this.options.details) Object.assign(record, extra);
    this.onRecord(record, flow);
  }

  private endFlow(flow: Flow): void {
    this.stats.flows++;
    for (const slot of this.endAnalyzers) {
      (this.analyzers[slot].onFlowEnd as NonNullable<Analyzer['onFlowEnd']>)(flow, this.contexts[slot]);
    }
    parserMemory.close(flow);
  }

  /** End of input: flush every flow's pending fingerprints. */
  finish(): void {
    this.flows.drain();
  }
}
