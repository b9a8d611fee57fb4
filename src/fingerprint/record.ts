/** One fingerprint observation, as printed by `sensorctl fingerprint` (the conformance contract). */
export type FingerprintType =
  | 'ja4' | 'ja4s' | 'ja4h' | 'ja4t' | 'ja4ts' | 'ja4x' | 'ja4l' | 'ja4ls' | 'ja4ssh' | 'ja4d';

export const ALL_METHODS: readonly FingerprintType[] = [
  'ja4', 'ja4s', 'ja4h', 'ja4t', 'ja4ts', 'ja4x', 'ja4l', 'ja4ls', 'ja4ssh', 'ja4d',
];

export interface FingerprintRecord {
  type: FingerprintType;
  value: string;
  /** 1-based index of the packet in the capture that completed the fingerprint. */
  frame: number;
  transport: 'tcp' | 'udp';
  /** Always the connection's client (SYN / ClientHello / request sender). */
  src: string;
  src_port: number;
  dst: string;
  dst_port: number;
  /** Extra fields (sni, raw forms, hassh, ...) are allowed and ignored by the checker. */
  [extra: string]: unknown;
}
