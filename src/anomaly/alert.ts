/**
 * The alert record: one JSON object per verdict, with the flow named as in Suricata's EVE JSON
 * (`src_ip`, `src_port`, `dest_ip`, `dest_port`, `proto`) so existing SIEM pipelines take it.
 */
import type { Severity, Verdict, VerdictKind } from './profiler.js';

export interface AlertFlow {
  src_ip: string;
  src_port: number;
  dest_ip: string;
  dest_port: number;
  /** EVE spelling: "TCP" / "UDP". */
  proto: string;
}

export interface AlertRecord {
  /** ISO 8601 with milliseconds and offset, as EVE writes it. */
  timestamp: string;
  sensor_id: string;
  event_type: 'alert';
  alert: {
    kind: VerdictKind;
    severity: Severity;
    anchor: string;
    companion: string;
    count: number;
    total_seen: number;
    message: string;
  };
  flow: AlertFlow;
}

/** Accepts `tcp`/`udp`/6/17 and writes EVE's upper-case protocol names. */
export function eveProto(proto: string | number): string {
  if (proto === 6) return 'TCP';
  if (proto === 17) return 'UDP';
  return String(proto).toUpperCase();
}

/** The last instant ISO 8601 (and EVE) writes with a four-digit year. */
export const LATEST_ISO_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

function isoTimestamp(timestamp: Date | number | string): string {
  if (typeof timestamp === 'string') return timestamp;
  let ms = typeof timestamp === 'number' ? timestamp : timestamp.getTime();
  // Capture time comes from the capture file: a damaged or hostile one may say anything.
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  else if (ms > LATEST_ISO_MS) ms = LATEST_ISO_MS;
  return new Date(ms).toISOString().replace('Z', '+0000');
}

/**
 * Builds the alert object for a verdict. `timestamp` is a Date, epoch milliseconds, or an already
 * formatted string; numbers and Dates are written as ISO 8601 UTC (`2024-05-01T12:00:00.000+0000`).
 */
export function buildAlert(
  verdict: Verdict,
  flow: { src_ip: string; src_port: number; dest_ip: string; dest_port: number; proto: string | number },
  sensorId: string,
  timestamp: Date | number | string,
): AlertRecord {
  return {
    timestamp: isoTimestamp(timestamp),
    sensor_id: sensorId,
    event_type: 'alert',
    alert: {
      kind: verdict.kind,
      severity: verdict.severity,
      anchor: verdict.anchor,
      companion: verdict.companion,
      count: verdict.count,
      total_seen: verdict.total_seen,
      message: verdict.message,
    },
    flow: {
      src_ip: flow.src_ip,
      src_port: flow.src_port,
      dest_ip: flow.dest_ip,
      dest_port: flow.dest_port,
      proto: eveProto(flow.proto),
    },
  };
}
