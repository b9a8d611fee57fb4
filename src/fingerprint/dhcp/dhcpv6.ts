/**
 * DHCPv6 → JA4D. Every option code is listed in order, the options nested in IA_NA (3) and IA_PD
 * (25) right after their container; the size field is the client identifier's length (option 1),
 * `i` marks an IA_NA holding an address option, `d` a client FQDN (39) with no flags set.
 */
import { appendCode, formatJa4d, messageTypeName } from './format.js';

const MESSAGE_TYPES = [
  '00000', 'solct', 'advrt', 'reqst', 'confm', 'renew', 'rebnd', 'reply', 'relse', 'decln',
  'recon', 'inreq', 'rlayf', 'rlayr', 'query', 'qrply', 'qdone', 'qdata', 'rereq', 'rrply',
  'v4qry', 'v4res', 'acqry', 'sttls', 'bdudp', 'brply', 'poreq', 'pores', 'urqst', 'ureqa',
  'udone', 'conne', 'connr', 'dconn', 'state', 'conta', 'arinf', 'arrep',
] as const;

const RELAY_FORW = 12;
const RELAY_REPL = 13;

const OPT_CLIENTID = 1;
const OPT_IA_NA = 3;
const OPT_IAADDR = 5;
const OPT_ORO = 6;
const OPT_IA_PD = 25;
const OPT_CLIENT_FQDN = 39;

/** IA_NA and IA_PD carry IAID, T1 and T2 before their own options. */
const IA_HEADER = 12;

/** JA4D of a DHCPv6 message (the UDP payload), or null when it is not DHCPv6. Never throws. */
export function ja4dV6(buf: Buffer, off: number, len: number): string | null {
  const end = Math.min(off + len, buf.length);
  if (off < 0 || end - off < 4) return null;
  const type = buf[off];
  if (type === 0) return null;
  // Relay messages carry hop count and two addresses instead of a transaction id.
  let p = off + (type === RELAY_FORW || type === RELAY_REPL ? 34 : 4);
  if (p > end) return null;
  let size = 0;
  let requestedAddress = false;
  let fqdn = false;
  let options = '';
  let requested = '';
  while (end - p >= 4) {
    const code = buf.readUInt16BE(p);
    const optLen = buf.readUInt16BE(p + 2);
    const v = p + 4;
    if (v + optLen > end) break;
    p = v + optLen;
    options = appendCode(options, code);
    switch (code) {
      case OPT_CLIENTID:
        size = optLen;
        break;
      case OPT_ORO:
        for (let i = 0; i + 1 < optLen; i += 2) requested = appendCode(requested, buf.readUInt16BE(v + i));
        break;
      case OPT_IA_NA:
      case OPT_IA_PD: {
        let q = v + IA_HEADER;
        const iaEnd = v + optLen;
        while (iaEnd - q >= 4) {
          const inner = buf.readUInt16BE(q);
          const innerLen = buf.readUInt16BE(q + 2);
          if (q + 4 + innerLen > iaEnd) break;
          q += 4 + innerLen;
          options = appendCode(options, inner);
          if (code === OPT_IA_NA && inner === OPT_IAADDR) requestedAddress = true;
        }
        break;
      }
      case OPT_CLIENT_FQDN:
        if (optLen >= 1 && buf[v] === 0) fqdn = true;
        break;
    }
  }
  return formatJa4d(messageTypeName(MESSAGE_TYPES, type), size, requestedAddress, fqdn, options, requested);
}
