/** The alert message as published on `<prefix>/alerts` and stored in the outbox. */

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';

export const SEVERITY_RANK: Readonly<Record<Severity, number>> = {
  info: 0,
  low: 1,
  medium: 2,
  high: 3,
  critical: 4,
};

export interface AlertMessage {
  timestamp: string;
  sensor_id: string;
  event_type: 'alert';
  alert: {
    kind: string;
    severity: Severity | string;
    anchor: string;
    companion: string;
    count: number;
    total_seen: number;
    message: string;
  };
  flow: {
    src_ip: string;
    src_port: number;
    dest_ip: string;
    dest_port: number;
    proto: string;
  };
}

/**
 * Alerts of severity high or above must survive a power cut from the moment they are raised, so the
 * outbox writes them at once. An unknown severity is treated as high: losing it would be worse than
 * one extra write.
 */
export function isDurableAtOnce(severity: string): boolean {
  const rank = SEVERITY_RANK[severity as Severity];
  return rank === undefined || rank >= SEVERITY_RANK.high;
}
