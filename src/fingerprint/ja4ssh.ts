/**
 * JA4SSH: `c<client mode>s<server mode>_c<client packets>s<server packets>_c<client ACKs>s<server ACKs>`
 * over a window of SSH packets (200 by default): the most common TCP payload length of each side
 * (the smaller one on a tie), how many SSH packets each side sent, and how many bare ACKs.
 */
export { SshDirectionTracker, SshSession } from './ssh/dissector.js';

export class Ja4sshWindow {
  private readonly clientLens = new Map<number, number>();
  private readonly serverLens = new Map<number, number>();
  clientPackets = 0;
  serverPackets = 0;
  clientAcks = 0;
  serverAcks = 0;

  get packets(): number {
    return this.clientPackets + this.serverPackets;
  }

  /** A packet that carries SSH data (its TCP payload length). */
  sshPacket(fromClient: boolean, tcpLen: number): void {
    const m = fromClient ? this.clientLens : this.serverLens;
    m.set(tcpLen, (m.get(tcpLen) ?? 0) + 1);
    if (fromClient) this.clientPackets++;
    else this.serverPackets++;
  }

  /** A bare ACK (flags exactly ACK, no SSH data). */
  ack(fromClient: boolean): void {
    if (fromClient) this.clientAcks++;
    else this.serverAcks++;
  }

  /** The fingerprint, or null when the window saw no SSH packet. */
  fingerprint(): string | null {
    if (this.clientLens.size === 0 && this.serverLens.size === 0) return null;
    return `c${mode(this.clientLens)}s${mode(this.serverLens)}_c${this.clientPackets}s${this.serverPackets}_c${this.clientAcks}s${this.serverAcks}`;
  }

  reset(): void {
    this.clientLens.clear();
    this.serverLens.clear();
    this.clientPackets = this.serverPackets = this.clientAcks = this.serverAcks = 0;
  }
}

/** The most frequent length; the smallest of equally frequent ones; 0 when empty. */
function mode(counts: Map<number, number>): number {
  let best = 0;
  let bestCount = 0;
  for (const [len, n] of counts) {
    if (n > bestCount || (n === bestCount && len < best)) {
      best = len;
      bestCount = n;
    }
  }
  return best;
}
