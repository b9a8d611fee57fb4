/**
 * JA4T / JA4TS: the TCP stack fingerprint of a SYN (client) or SYN-ACK (server):
 * `<window>_<option kinds>_<MSS>_<window scale>`.
 *
 * The two references format it differently and the conformance outputs follow each: FoxIO's Rust
 * tool (JA4T) prints the numbers bare (`8192__0_0` for a SYN without options), the Wireshark plugin
 * (JA4TS) pads to two digits and writes `00` for an empty option list (`8192_00_00_00`).
 */

export const TCPOPT_EOL = 0;
export const TCPOPT_NOP = 1;
export const TCPOPT_MSS = 2;
export const TCPOPT_WSCALE = 3;

/** The parts of a TCP header JA4T reads. */
export interface TcpStackInfo {
  window: number;
  /** Option kinds in wire order, dash-joined ('' when there are none). */
  options: string;
  /** Last well-formed MSS option value, or -1. */
  mss: number;
  /** Last well-formed window-scale shift, or -1. */
  windowScale: number;
}

/**
 * Walks the option list as Wireshark does: every EOL and NOP byte is an option of its own (padding
 * after EOL shows up as `0-0`), a list may end without EOL, and a length byte that is missing,
 * below 2 or past the end stops the walk after recording the kind.
 */
export function parseTcpOptions(window: number, buf: Buffer, off: number, len: number): TcpStackInfo {
  let options = '';
  let mss = -1;
  let windowScale = -1;
  const end = Math.min(off + Math.max(len, 0), buf.length);
  let p = Math.max(off, 0);
  while (p < end) {
    const kind = buf[p];
    options = options.length === 0 ? String(kind) : `${options}-${kind}`;
    if (kind === TCPOPT_EOL || kind === TCPOPT_NOP) {
      p += 1;
      continue;
    }
    if (p + 1 >= end) break;
    const optLen = buf[p + 1];
    if (optLen < 2 || p + optLen > end) break;
    if (kind === TCPOPT_MSS && optLen === 4) mss = buf.readUInt16BE(p + 2);
    else if (kind === TCPOPT_WSCALE && optLen === 3) windowScale = buf[p + 2];
    p += optLen;
  }
  return { window, options, mss, windowScale };
}

/** JA4T as FoxIO's Rust tool prints it (the per-connection reference). */
export function formatJa4t(info: TcpStackInfo): string {
  const mss = info.mss < 0 ? 0 : info.mss;
  const ws = info.windowScale < 0 ? 0 : info.windowScale;
  return `${info.window}_${info.options}_${mss}_${ws}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** JA4TS as the Wireshark plugin prints it: padded fields, `00` for no options. */
export function formatJa4ts(info: TcpStackInfo): string {
  const mss = info.mss < 0 ? 0 : info.mss;
  const ws = info.windowScale < 0 ? 0 : info.windowScale;
  const opts = info.options.length === 0 ? '00' : info.options;
  return `${info.window}_${opts}_${pad2(mss)}_${ws === 0 ? '00' : String(ws)}`;
}
