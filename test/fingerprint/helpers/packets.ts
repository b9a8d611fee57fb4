/** Hand-built IPv4 TCP/UDP frames (raw-IP link type) and a harness running them through the real engine. */
import { FingerprintEngine } from '../../../src/fingerprint/engine.js';
import type { AnalyzerFactory } from '../../../src/fingerprint/analyzer.js';
import type { FingerprintRecord } from '../../../src/fingerprint/record.js';
import { LINKTYPE_RAW } from '../../../src/capture/capture-reader.js';

export const CLIENT = { ip: [10, 0, 0, 1], port: 50000 };
export const SERVER = { ip: [10, 0, 0, 2], port: 443 };

function ipv4(proto: number, src: number[], dst: number[], l4: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + l4.length, 2);
  h[8] = 64;
  h[9] = proto;
  Buffer.from(src).copy(h, 12);
  Buffer.from(dst).copy(h, 16);
  return Buffer.concat([h, l4]);
}

export function tcp(fromClient: boolean, seq: number, flags: number, payload: Buffer = Buffer.alloc(0), ack = 0): Buffer {
  const [a, b] = fromClient ? [CLIENT, SERVER] : [SERVER, CLIENT];
  const h = Buffer.alloc(20);
  h.writeUInt16BE(a.port, 0);
  h.writeUInt16BE(b.port, 2);
  h.writeUInt32BE(seq >>> 0, 4);
  h.writeUInt32BE(ack >>> 0, 8);
  h[12] = 5 << 4;
  h[13] = flags;
  h.writeUInt16BE(65535, 14);
  return ipv4(6, a.ip, b.ip, Buffer.concat([h, payload]));
}

export function udp(fromClient: boolean, payload: Buffer): Buffer {
  const [a, b] = fromClient ? [CLIENT, SERVER] : [SERVER, CLIENT];
  const h = Buffer.alloc(8);
  h.writeUInt16BE(a.port, 0);
  h.writeUInt16BE(b.port, 2);
  h.writeUInt16BE(8 + payload.length, 4);
  return ipv4(17, a.ip, b.ip, Buffer.concat([h, payload]));
}

export const SYN = 0x02, ACK = 0x10, PSH = 0x08;

/** Runs frames through a real engine with the given analyzers; returns the records. */
export function run(factories: AnalyzerFactory[], frames: Buffer[], keyLog?: string): FingerprintRecord[] {
  const out: FingerprintRecord[] = [];
  const engine = new FingerprintEngine((r) => out.push(r), { factories });
  if (keyLog) engine.addSecrets(0x544c534b, Buffer.from(keyLog));
  frames.forEach((data, i) => engine.handleFrame({ frame: i + 1, tsUs: 1e12 + i * 1000, linkType: LINKTYPE_RAW, interfaceId: 0, data, origLen: data.length }));
  engine.finish();
  return out;
}

/** A TCP handshake followed by the given segments ([fromClient, payload, seqOffset?]). */
export class TcpConversation {
  cseq = 1000;
  sseq = 5000;
  frames: Buffer[] = [];

  constructor() {
    this.frames.push(tcp(true, this.cseq, SYN), tcp(false, this.sseq, SYN | ACK, undefined, this.cseq + 1), tcp(true, this.cseq + 1, ACK));
    this.cseq++;
    this.sseq++;
  }

  /** Sends bytes from one side as the next segment; returns the sequence number used. */
  send(fromClient: boolean, payload: Buffer): number {
    const seq = fromClient ? this.cseq : this.sseq;
    this.frames.push(tcp(fromClient, seq, PSH | ACK, payload));
    if (fromClient) this.cseq += payload.length; else this.sseq += payload.length;
    return seq;
  }

  /** A segment at an explicit sequence number (retransmissions, reordering). */
  sendAt(fromClient: boolean, seq: number, payload: Buffer): void {
    this.frames.push(tcp(fromClient, seq, PSH | ACK, payload));
  }
}
