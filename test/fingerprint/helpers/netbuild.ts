/** Hand-built IPv4/IPv6 TCP and UDP packets (raw-IP link type) and a runner that feeds them to the real engine. */
import { LINKTYPE_RAW } from '../../../src/capture/capture-reader.js';
import { FingerprintEngine, type EngineConfig } from '../../../src/fingerprint/engine.js';
import type { FingerprintRecord } from '../../../src/fingerprint/record.js';

export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;
export const FIN = 0x01;

export interface TcpSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  flags: number;
  seq?: number;
  ack?: number;
  window?: number;
  options?: Buffer;
  payload?: Buffer;
  ttl?: number;
}

export interface UdpSpec {
  src: string;
  dst: string;
  sport: number;
  dport: number;
  payload: Buffer;
  ttl?: number;
}

function ipBytes(addr: string): Buffer {
  if (addr.includes(':')) {
    const [head, tail] = addr.split('::');
    const h = head ? head.split(':') : [];
    const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    const b = Buffer.alloc(16);
    groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
    return b;
  }
  return Buffer.from(addr.split('.').map(Number));
}

function ipPacket(src: string, dst: string, proto: number, l4: Buffer, ttl: number): Buffer {
  const s = ipBytes(src);
  const d = ipBytes(dst);
  if (s.length === 16) {
    const h = Buffer.alloc(40);
    h[0] = 0x60;
    h.writeUInt16BE(l4.length, 4);
    h[6] = proto;
    h[7] = ttl;
    s.copy(h, 8);
    d.copy(h, 24);
    return Buffer.concat([h, l4]);
  }
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + l4.length, 2);
  h[8] = ttl;
  h[9] = proto;
  s.copy(h, 12);
  d.copy(h, 16);
  return Buffer.concat([h, l4]);
}

export function tcpPacket(t: TcpSpec): Buffer {
  let opts = t.options ?? Buffer.alloc(0);
  // The data offset counts 32-bit words: pad options with zero (EOL) bytes like a stack would.
  if (opts.length % 4 !== 0) opts = Buffer.concat([opts, Buffer.alloc(4 - (opts.length % 4))]);
  const h = Buffer.alloc(20);
  h.writeUInt16BE(t.sport, 0);
  h.writeUInt16BE(t.dport, 2);
  h.writeUInt32BE((t.seq ?? 0) >>> 0, 4);
  h.writeUInt32BE((t.ack ?? 0) >>> 0, 8);
  h[12] = ((20 + opts.length) / 4) << 4;
  h[13] = t.flags;
  h.writeUInt16BE(t.window ?? 65535, 14);
  return ipPacket(t.src, t.dst, 6, Buffer.concat([h, opts, t.payload ?? Buffer.alloc(0)]), t.ttl ?? 64);
}

/** TCP options exactly as given (no padding), for tests of option walking. */
export function tcpPacketRawOptions(t: TcpSpec & { options: Buffer }): Buffer {
  if (t.options.length % 4 !== 0) throw new Error('raw options must fill whole words');
  return tcpPacket(t);
}

export function udpPacket(u: UdpSpec): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(u.sport, 0);
  h.writeUInt16BE(u.dport, 2);
  h.writeUInt16BE(8 + u.payload.length, 4);
  return ipPacket(u.src, u.dst, 17, Buffer.concat([h, u.payload]), u.ttl ?? 64);
}

export interface TimedPacket {
  data: Buffer;
  /** Microseconds since the epoch. */
  tsUs: number;
}

/** Runs packets (frame numbers 1..n) through a fresh engine and returns every record. */
export function runPackets(packets: readonly TimedPacket[], config: EngineConfig = {}): FingerprintRecord[] {
  const out: FingerprintRecord[] = [];
  const engine = new FingerprintEngine((r) => out.push(r), config);
  packets.forEach((p, i) => {
    engine.handleFrame({ frame: i + 1, tsUs: p.tsUs, linkType: LINKTYPE_RAW, interfaceId: 0, data: p.data, origLen: p.data.length });
  });
  engine.finish();
  return out;
}

/** A client/server pair that hands out TCP packets with running sequence numbers. */
export class TcpConversation {
  private clientSeq: number;
  private serverSeq: number;
  readonly packets: TimedPacket[] = [];
  tsUs = 1_700_000_000_000_000;

  constructor(
    readonly client: string, readonly server: string, readonly cport: number, readonly sport: number,
    isnClient = 1000, isnServer = 5000,
  ) {
    this.clientSeq = isnClient;
    this.serverSeq = isnServer;
  }

  handshake(): this {
    this.send(true, SYN, Buffer.alloc(0), Buffer.from('020405b4', 'hex'));
    this.clientSeq++;
    this.send(false, SYN | ACK, Buffer.alloc(0), Buffer.from('020405b4', 'hex'));
    this.serverSeq++;
    this.send(true, ACK);
    return this;
  }

  /** Sends data (PSH|ACK) or a bare ACK when payload is empty. */
  send(fromClient: boolean, flags = PSH | ACK, payload: Buffer = Buffer.alloc(0), options?: Buffer, advanceUs = 1000): this {
    this.tsUs += advanceUs;
    const seq = fromClient ? this.clientSeq : this.serverSeq;
    const ack = fromClient ? this.serverSeq : this.clientSeq;
    this.packets.push({
      tsUs: this.tsUs,
      data: tcpPacket({
        src: fromClient ? this.client : this.server, dst: fromClient ? this.server : this.client,
        sport: fromClient ? this.cport : this.sport, dport: fromClient ? this.sport : this.cport,
        flags, seq, ack, options, payload,
      }),
    });
    if (fromClient) this.clientSeq = (this.clientSeq + payload.length) >>> 0;
    else this.serverSeq = (this.serverSeq + payload.length) >>> 0;
    return this;
  }

  /** Resends bytes already sent (a retransmission of the last `payload.length` bytes). */
  retransmit(fromClient: boolean, payload: Buffer, flags = PSH | ACK): this {
    if (fromClient) this.clientSeq = (this.clientSeq - payload.length) >>> 0;
    else this.serverSeq = (this.serverSeq - payload.length) >>> 0;
    return this.send(fromClient, flags, payload);
  }

  data(fromClient: boolean, payload: Buffer | string): this {
    return this.send(fromClient, PSH | ACK, typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload);
  }

  ack(fromClient: boolean): this {
    return this.send(fromClient, ACK);
  }
}
