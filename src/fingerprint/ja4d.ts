/**
 * JA4D: the DHCP fingerprint `<message type><max size><i|n><d|n>_<options>_<requested options>`,
 * e.g. `disco0000in_61-55_1-3-6-42`, for DHCPv4 and DHCPv6 (FoxIO's Wireshark plugin output is
 * the conformance reference; FoxIO's Arkime module builds the same strings).
 */
export { ja4dV4 } from './dhcp/dhcpv4.js';
export { ja4dV6 } from './dhcp/dhcpv6.js';
