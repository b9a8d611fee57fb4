/**
 * The handshake analyzer: JA4T from the client's SYN, JA4TS from the server's SYN-ACK (and bare
 * RSTs), and JA4L/JA4LS from the timing of the TCP three-way handshake or of QUIC's Initial and
 * Handshake packets. Everything it needs is in packet headers, so it reads no stream bytes.
 */
import type { Flow } from '../capture/flow-table.js';
import { Packet, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../capture/packet.js';
import type { Analyzer, AnalyzerContext, AnalyzerFactory } from './analyzer.js';
import { formatJa4t, parseTcpOptions } from './ja4t.js';
import { Ja4tsState } from './ja4ts.js';
import { QuicLatency, TcpLatency, quicLongPacketType, type LatencyResult } from './ja4l.js';

const QUIC_PORT = 443;

interface TcpFlowState {
  /** Sequence number of the client's SYN (-1 before one is seen). */
  synSeq: number;
  ja4tDone: boolean;
  ja4ts: Ja4tsState | null;
  latency: TcpLatency | null;
}

interface QuicFlowState {
  latency: QuicLatency;
}

/** The TTL FoxIO's tool reports: the first IPv4 header's, else the first IPv6 header's hop limit. */
export function referenceTtl(pkt: Packet): number {
  if (pkt.firstIpv4Ttl >= 0) return pkt.firstIpv4Ttl;
  if (pkt.firstIpv6HopLimit >= 0) return pkt.firstIpv6HopLimit;
  return pkt.ttl;
}

export class TcpHandshakeAnalyzer implements Analyzer {
  readonly name = 'tcp-handshake';
  readonly methods = ['ja4t', 'ja4ts', 'ja4l', 'ja4ls'] as const;

  onPacket(pkt: Packet, flow: Flow, _fromClient: boolean, ctx: AnalyzerContext): void {
    if (pkt.proto === PROTO_TCP) this.tcp(pkt, flow, ctx);
    else if (pkt.proto === PROTO_UDP && (pkt.dstPort === QUIC_PORT || pkt.srcPort === QUIC_PORT)) this.quic(pkt, flow, ctx);
  }

  private tcp(pkt: Packet, flow: Flow, ctx: AnalyzerContext): void {
    const flags = pkt.tcpFlags;
    const syn = (flags & TCP_SYN) !== 0;
    const ack = (flags & TCP_ACK) !== 0;
    let st = flow.state[ctx.slot] as TcpFlowState | undefined;
    // Only handshake packets and RSTs matter; everything else returns before any work.
    if (!syn && !(ack && st?.latency && !st.latency.done) && flags !== TCP_RST) return;
    if (st === undefined) {
      st = { synSeq: -1, ja4tDone: false, ja4ts: null, latency: null };
      flow.state[ctx.slot] = st;
    }
    if (syn && !ack) {
      // A SYN with a new initial sequence number on the same ports is a new connection.
      if (st.synSeq >= 0 && st.synSeq !== pkt.seq) {
        st.ja4tDone = false;
        st.ja4ts = null;
        st.latency = null;
      }
      st.synSeq = pkt.seq;
      if (!st.ja4tDone && ctx.enabled('ja4t')) {
        st.ja4tDone = true;
        const info = parseTcpOptions(pkt.window, pkt.data, pkt.tcpOptOff, pkt.tcpOptLen);
        ctx.emit(flow, 'ja4t', formatJa4t(info), pkt.frame);
      }
      this.latency(st).syn(pkt.tsUs, referenceTtl(pkt));
      return;
    }
    if (syn && ack) {
      if (flags === (TCP_SYN | TCP_ACK) && ctx.enabled('ja4ts')) {
        const info = parseTcpOptions(pkt.window, pkt.data, pkt.tcpOptOff, pkt.tcpOptLen);
        st.ja4ts ??= new Ja4tsState();
        ctx.emit(flow, 'ja4ts', st.ja4ts.synAck(info, pkt.tsUs), pkt.frame);
      }
      this.latency(st).synAck(pkt.tsUs, referenceTtl(pkt));
      return;
    }
    if (flags === TCP_RST) {
      if (ctx.enabled('ja4ts')) {
        const own = parseTcpOptions(0, pkt.data, pkt.tcpOptOff, pkt.tcpOptLen).options;
        st.ja4ts ??= new Ja4tsState();
        ctx.emit(flow, 'ja4ts', st.ja4ts.rst(own, pkt.tsUs), pkt.frame);
      }
      return;
    }
    // The client's ACK that completes the handshake: no SYN, RST or FIN.
    if ((flags & (TCP_SYN | TCP_RST | TCP_FIN | TCP_ACK)) === TCP_ACK && st.latency !== null) {
      this.emitLatency(flow, st.latency.ack(pkt.tsUs), pkt.frame, ctx);
    }
  }

  private latency(st: TcpFlowState): TcpLatency {
    if (st.latency === null) st.latency = new TcpLatency();
    return st.latency;
  }

  private quic(pkt: Packet, flow: Flow, ctx: AnalyzerContext): void {
    if (!ctx.enabled('ja4l') && !ctx.enabled('ja4ls')) return;
    let st = flow.state[ctx.slot] as QuicFlowState | undefined;
    if (st?.latency.done) return;
    const type = quicLongPacketType(pkt.data, pkt.payloadOff, pkt.payloadLen);
    if (type < 0) return;
    if (st === undefined) {
      st = { latency: new QuicLatency() };
      flow.state[ctx.slot] = st;
    }
    // FoxIO decides the direction by port: towards 443 is the client.
    const fromClient = pkt.dstPort === QUIC_PORT;
    this.emitLatency(flow, st.latency.packet(fromClient, type, pkt.tsUs, referenceTtl(pkt)), pkt.frame, ctx);
  }

  private emitLatency(flow: Flow, result: LatencyResult | null, frame: number, ctx: AnalyzerContext): void {
    if (result === null) return;
    if (ctx.enabled('ja4l')) ctx.emit(flow, 'ja4l', result.client, frame);
    if (ctx.enabled('ja4ls')) ctx.emit(flow, 'ja4ls', result.server, frame);
  }
}

export const createTcpHandshakeAnalyzer: AnalyzerFactory = () => new TcpHandshakeAnalyzer();
