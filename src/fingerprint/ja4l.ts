/**
 * JA4L (client) and JA4LS (server): half the round-trip time in microseconds and the TTL each side
 * sent with, `<latency>_<ttl>`, taken from the connection's opening packets as FoxIO's Rust tool
 * does.
 *
 * TCP:  A = client SYN, B = server SYN-ACK, C = the client's ACK; JA4LS = (B-A)/2, JA4L = (C-B)/2.
 * QUIC: A = client Initial, B = server Initial, C = the last server Handshake packet before
 *       D = the client's first Handshake packet; JA4LS = (B-A)/2, JA4L = (D-C)/2.
 *
 * The TTL is that of the first IP header of the packet (the outer one in a tunnel), as FoxIO reads
 * it from tshark's first `ip` layer.
 */

export interface LatencyResult {
  /** JA4L, the client side. */
  client: string;
  /** JA4LS, the server side. */
  server: string;
}

/** Microsecond timestamps are integers; latency is an integer division like the reference's i64. */
function half(deltaUs: number): number {
  return Math.trunc(deltaUs / 2);
}

function toMicros(tsUs: number): number {
  return Math.floor(tsUs);
}

const enum TcpPhase { WaitSyn, WaitSynAck, WaitAck, Done }

/** The three-way handshake timer. Feed it each packet's handshake role; it finishes once. */
export class TcpLatency {
  private phase = TcpPhase.WaitSyn;
  private tA = 0;
  private tB = 0;
  private clientTtl = 0;
  private serverTtl = 0;

  get done(): boolean {
    return this.phase === TcpPhase.Done;
  }

  syn(tsUs: number, ttl: number): void {
    if (this.phase !== TcpPhase.WaitSyn) return;
    this.tA = toMicros(tsUs);
    this.clientTtl = ttl;
    this.phase = TcpPhase.WaitSynAck;
  }

  synAck(tsUs: number, ttl: number): void {
    if (this.phase !== TcpPhase.WaitSynAck) return;
    this.tB = toMicros(tsUs);
    this.serverTtl = ttl;
    this.phase = TcpPhase.WaitAck;
  }

  /** Returns the fingerprints when this ACK completes the handshake. */
  ack(tsUs: number): LatencyResult | null {
    if (this.phase !== TcpPhase.WaitAck) return null;
    this.phase = TcpPhase.Done;
    const tC = toMicros(tsUs);
    return {
      client: `${half(tC - this.tB)}_${this.clientTtl}`,
      server: `${half(this.tB - this.tA)}_${this.serverTtl}`,
    };
  }
}

/** QUIC long-header packet types, normalised to QUIC v1 numbering. */
export const QUIC_INITIAL = 0;
export const QUIC_0RTT = 1;
export const QUIC_HANDSHAKE = 2;
export const QUIC_RETRY = 3;

const QUIC_V2 = 0x6b3343cf;

/**
 * The long-header packet type of the first QUIC packet in a UDP payload, or -1 for a short header,
 * a version negotiation packet or something that is not QUIC. Only cleartext header bits are read.
 */
export function quicLongPacketType(buf: Buffer, off: number, len: number): number {
  if (len < 7 || off + len > buf.length) return -1;
  const first = buf[off];
  if ((first & 0x80) === 0) return -1;
  const version = buf.readUInt32BE(off + 1);
  if (version === 0) return -1;
  const bits = (first & 0x30) >> 4;
  if (version === QUIC_V2) {
    // RFC 9369 rotates the type codes: Retry 0, Initial 1, 0-RTT 2, Handshake 3.
    return bits === 0 ? QUIC_RETRY : bits - 1;
  }
  return bits;
}

const enum QuicPhase { WaitClientInitial, WaitServerInitial, WaitServerHandshake, WaitClientHandshake, Done }

/** The QUIC handshake timer (client and server Initial, then Handshake packets). */
export class QuicLatency {
  private phase = QuicPhase.WaitClientInitial;
  private tA = 0;
  private tB = 0;
  private tC = 0;
  private clientTtl = 0;
  private serverTtl = 0;

  get done(): boolean {
    return this.phase === QuicPhase.Done;
  }

  /** One QUIC datagram with the long-header type of its first packet. */
  packet(fromClient: boolean, packetType: number, tsUs: number, ttl: number): LatencyResult | null {
    const t = toMicros(tsUs);
    switch (this.phase) {
      case QuicPhase.WaitClientInitial:
        if (fromClient && packetType === QUIC_INITIAL) {
          this.tA = t;
          this.clientTtl = ttl;
          this.phase = QuicPhase.WaitServerInitial;
        }
        return null;
      case QuicPhase.WaitServerInitial:
        if (!fromClient && packetType === QUIC_INITIAL) {
          this.tB = t;
          this.serverTtl = ttl;
          this.phase = QuicPhase.WaitServerHandshake;
        }
        return null;
      case QuicPhase.WaitServerHandshake:
        if (!fromClient && packetType === QUIC_HANDSHAKE) {
          this.tC = t;
          this.phase = QuicPhase.WaitClientHandshake;
        }
        return null;
      case QuicPhase.WaitClientHandshake:
        if (packetType !== QUIC_HANDSHAKE) return null;
        if (!fromClient) {
          this.tC = t;
          return null;
        }
        this.phase = QuicPhase.Done;
        return {
          client: `${half(t - this.tC)}_${this.clientTtl}`,
          server: `${half(this.tB - this.tA)}_${this.serverTtl}`,
        };
      default:
        return null;
    }
  }
}
