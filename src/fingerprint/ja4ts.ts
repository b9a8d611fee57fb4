/**
 * JA4TS: the server's TCP stack fingerprint from its SYN-ACK, as FoxIO's Wireshark plugin computes
 * it (the conformance reference for this type). A server that retransmits its SYN-ACK gets the
 * seconds between retransmissions appended (`_1-2-4`), and a later bare RST re-emits the
 * fingerprint with `-R<seconds>`: the retransmission timing identifies stacks too.
 */
import { formatJa4ts, type TcpStackInfo } from './ja4t.js';

/** The plugin keeps at most this many SYN-ACK timestamps per connection. */
const MAX_SYN_ACK_TIMES = 10;

export class Ja4tsState {
  private readonly synAckTimesUs: number[] = [];
  private rstTimeUs = -1;
  private window = 0;
  private mss = -1;
  private windowScale = -1;
  /** Options of the first SYN-ACK (null until one is seen). */
  private firstOptions: string | null = null;

  /** A SYN-ACK (flags exactly SYN|ACK); returns its JA4TS. */
  synAck(info: TcpStackInfo, tsUs: number): string {
    if (this.synAckTimesUs.length < MAX_SYN_ACK_TIMES) this.synAckTimesUs.push(tsUs);
    this.window = info.window;
    this.mss = info.mss;
    this.windowScale = info.windowScale;
    if (this.firstOptions === null) this.firstOptions = info.options;
    return formatJa4ts(info) + this.retransmissionSuffix();
  }

  /**
   * A bare RST (flags exactly RST): the fingerprint of the SYN-ACKs seen, with the RST timing.
   * `ownOptions` are the RST's own option kinds, which the plugin lists before the SYN-ACK's.
   */
  rst(ownOptions: string, tsUs: number): string {
    this.rstTimeUs = tsUs;
    let options = ownOptions;
    if (this.firstOptions !== null && this.firstOptions.length > 0) {
      options = options.length === 0 ? this.firstOptions : `${options}-${this.firstOptions}`;
    }
    const info: TcpStackInfo = { window: this.window, options, mss: this.mss, windowScale: this.windowScale };
    return formatJa4ts(info) + this.retransmissionSuffix();
  }

  private retransmissionSuffix(): string {
    const times = this.synAckTimesUs;
    if (times.length <= 1) return '';
    let out = '_';
    for (let i = 1; i < times.length; i++) {
      if (i > 1) out += '-';
      out += String(roundSeconds(times[i] - times[i - 1]));
    }
    if (this.rstTimeUs >= 0) out += `-R${roundSeconds(this.rstTimeUs - times[times.length - 1])}`;
    return out;
  }
}

/** C's round(): halves away from zero. */
function roundSeconds(deltaUs: number): number {
  const s = deltaUs / 1e6;
  return s < 0 ? -Math.round(-s) : Math.round(s);
}
