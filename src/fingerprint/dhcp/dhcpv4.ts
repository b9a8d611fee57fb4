/**
 * DHCPv4 (BOOTP with the DHCP magic cookie) → JA4D. The options list skips the message type (53),
 * the requested address (50, shown as `i`) and the client FQDN (81, shown as `d`); the maximum
 * message size (57) and the parameter request list (55) also fill their own fields.
 */
import { appendCode, formatJa4d, messageTypeName } from './format.js';

const MESSAGE_TYPES = [
  '00000', 'disco', 'offer', 'reqst', 'decln', 'dpack', 'dpnak', 'relse', 'infor', 'frenw',
  'lqery', 'lunas', 'lunkn', 'lactv', 'blklq', 'lqdon', 'actlq', 'lqsta', 'dhtls',
] as const;

const BOOTP_FIXED = 236;
const MAGIC = 0x63825363;

const OPT_PAD = 0;
const OPT_REQUESTED_ADDRESS = 50;
const OPT_MESSAGE_TYPE = 53;
const OPT_PARAMETER_LIST = 55;
const OPT_MAX_SIZE = 57;
const OPT_CLIENT_FQDN = 81;
const OPT_END = 255;

/** JA4D of a DHCPv4 message (the UDP payload), or null when it is not DHCP. Never throws. */
export function ja4dV4(buf: Buffer, off: number, len: number): string | null {
  const end = Math.min(off + len, buf.length);
  if (off < 0 || end - off < BOOTP_FIXED + 4) return null;
  const op = buf[off];
  if (op !== 1 && op !== 2) return null;
  if (buf.readUInt32BE(off + BOOTP_FIXED) !== MAGIC) return null;
  let type = -1;
  let size = 0;
  let requestedAddress = false;
  let fqdn = false;
  let options = '';
  let requested = '';
  let p = off + BOOTP_FIXED + 4;
  while (p < end) {
    const code = buf[p];
    if (code === OPT_END) break;
    if (code === OPT_PAD) {
      p++;
      continue;
    }
    if (p + 1 >= end) break;
    const optLen = buf[p + 1];
    const v = p + 2;
    if (v + optLen > end) break;
    p = v + optLen;
    switch (code) {
      case OPT_MESSAGE_TYPE:
        if (optLen >= 1) type = buf[v];
        continue;
      case OPT_REQUESTED_ADDRESS:
        requestedAddress = true;
        continue;
      case OPT_CLIENT_FQDN:
        fqdn = true;
        continue;
      case OPT_PARAMETER_LIST:
        for (let i = 0; i < optLen; i++) requested = appendCode(requested, buf[v + i]);
        break;
      case OPT_MAX_SIZE:
        if (optLen === 2) size = buf.readUInt16BE(v);
        break;
    }
    options = appendCode(options, code);
  }
  // BOOTP without a DHCP message type is not DHCP.
  if (type < 0) return null;
  return formatJa4d(messageTypeName(MESSAGE_TYPES, type), size, requestedAddress, fqdn, options, requested);
}
