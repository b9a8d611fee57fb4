/** Topic names and the client id, derived from the sensor id so every sensor has its own namespace. */
import { createHash } from 'node:crypto';

export interface SensorTopics {
  alerts: string;
  status: string;
  health: string;
  stats: string;
}

export function topicsFor(prefix: string): SensorTopics {
  return {
    alerts: `${prefix}/alerts`,
    status: `${prefix}/status`,
    health: `${prefix}/health`,
    stats: `${prefix}/stats`,
  };
}

/** One topic level from a sensor id: MQTT wildcards, separators and control characters become '_'. */
export function topicLevel(id: string): string {
  let out = '';
  for (const ch of id) {
    const code = ch.codePointAt(0) ?? 0;
    out += ch === '+' || ch === '#' || ch === '/' || code < 0x20 || code === 0x7f ? '_' : ch;
  }
  return out || '_';
}

export function defaultTopicPrefix(sensorId: string): string {
  return `sensor/${topicLevel(sensorId)}`;
}

/** A prefix we can append `/alerts` to: no wildcards, no empty levels, no leading `$`. */
export function isValidTopicPrefix(prefix: string): boolean {
  if (prefix.length === 0 || prefix.startsWith('$')) return false;
  if (prefix.includes('+') || prefix.includes('#') || prefix.includes('\0')) return false;
  return !prefix.split('/').some((level) => level.length === 0);
}

/**
 * `ja4-<sensor id>`. MQTT 3.1.1 brokers need only accept 23 characters of [0-9a-zA-Z], so a longer or
 * unusual id is shortened to a readable head plus a hash: still stable, still unique per sensor.
 */
export function clientIdForSensor(sensorId: string): string {
  const plain = `ja4-${sensorId}`;
  if (plain.length <= 23 && /^[0-9a-zA-Z_-]+$/.test(plain)) return plain;
  const head = sensorId.replace(/[^0-9a-zA-Z]/g, '').slice(0, 10);
  const hash = createHash('sha256').update(sensorId).digest('hex').slice(0, 8);
  return `ja4-${head}-${hash}`;
}

/** Home Assistant wants [a-zA-Z0-9_-] in node and object ids. */
export function homeAssistantId(sensorId: string): string {
  return sensorId.replace(/[^a-zA-Z0-9_-]/g, '_') || 'sensor';
}
