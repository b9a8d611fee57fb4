/**
 * The contract between the connection engine and one fingerprint family. Each family (TLS, TCP,
 * HTTP, SSH, DHCP, QUIC, ...) is an Analyzer with its own per-flow state in `flow.state[ctx.slot]`.
 * An analyzer all of whose methods are switched off is never registered, so it costs nothing.
 */
import type { Flow } from '../capture/flow-table.js';
import type { Packet } from '../capture/packet.js';
import type { FingerprintType } from './record.js';

export interface AnalyzerContext {
  /** Index of this analyzer's slot in `flow.state`. */
  readonly slot: number;
  /** Whether a method is switched on (an analyzer may produce several). */
  enabled(type: FingerprintType): boolean;
  /** Records a fingerprint for the flow; `frame` is the packet that completed it. */
  emit(flow: Flow, type: FingerprintType, value: string, frame: number, extra?: Record<string, unknown>): void;
  /** This analyzer needs no more reassembled bytes of the flow (saves the reassembly work). */
  streamDone(flow: Flow): void;
  /** Hands decrypted application bytes (TLS/QUIC with secrets) to the analyzers that read them. */
  deliverPlaintext(flow: Flow, fromClient: boolean, bytes: Buffer, pkt: Packet, alpn: string | null): void;
  readonly options: EngineOptions;
}

export interface Analyzer {
  readonly name: string;
  readonly methods: readonly FingerprintType[];
  /** Set when the analyzer reads the reassembled TCP byte stream. */
  readonly wantsStream?: boolean;
  /** Every decoded TCP/UDP packet of every flow (of `packetTransports` only, when given). */
  onPacket?(pkt: Packet, flow: Flow, fromClient: boolean, ctx: AnalyzerContext): void;
  /** The transports whose packets onPacket reads; the engine does not call it for the others. */
  readonly packetTransports?: readonly ('tcp' | 'udp')[];
  /**
   * In-order TCP payload bytes buf[off, off+len) (valid only during the call; passed as a range so
   * the per-packet path makes no view); `gap` marks bytes lost before these.
   */
  onStream?(flow: Flow, fromClient: boolean, buf: Buffer, off: number, len: number, gap: boolean, pkt: Packet, ctx: AnalyzerContext): void;
  /** Decrypted application data, in order, from another analyzer that holds the keys. */
  onPlaintext?(flow: Flow, fromClient: boolean, bytes: Buffer, pkt: Packet, alpn: string | null, ctx: AnalyzerContext): void;
  /** Key material: pcapng Decryption Secrets Block contents or a key-log file's text. */
  onSecrets?(secretsType: number, data: Buffer): void;
  /** The flow is being evicted or the capture ended. */
  onFlowEnd?(flow: Flow, ctx: AnalyzerContext): void;
}

export interface EngineOptions {
  /** Methods that run; the rest cost nothing. */
  methods: ReadonlySet<FingerprintType>;
  /** JA4SSH: packets per direction per fingerprint window (the spec's default is 200). */
  sshWindowPackets: number;
  /**
   * Records carry the reference tool's extra fields (raw forms such as ja4_r, certificate names,
   * HASSH, SNI) besides the fingerprint. `sensorctl fingerprint` prints them; the daemon profiles
   * the fingerprint values only, so it switches them off and skips building them.
   */
  details: boolean;
}

export type AnalyzerFactory = (options: EngineOptions) => Analyzer;
