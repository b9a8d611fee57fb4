/** Shared pieces for MQTT tests: a sensor DB with the outbox table, alerts, and a collecting subscriber. */
import type Database from 'better-sqlite3';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import type { AlertRecord } from '../../src/anomaly/alert.js';
import type { Severity } from '../../src/anomaly/profiler.js';
import { resolveMqttConfig, type MqttConfig, type MqttConfigSection } from '../../src/mqtt/config.js';
import type { Logger } from '../../src/storage/db.js';
import { openSensorDb as openStorage } from '../../src/storage/db.js';

/** A real sensor database (the storage module's open: pragmas, migrations, alert_outbox). */
export function openSensorDb(path: string): Database.Database {
  return openStorage(path, { sensorId: 'test-sensor' }).db;
}

export function makeAlert(n: number, severity: Severity = 'medium', sensorId = 'test-sensor'): AlertRecord {
  return {
    timestamp: new Date(Date.UTC(2025, 0, 1, 0, 0, 0, n)).toISOString().replace('Z', '+0000'),
    sensor_id: sensorId,
    event_type: 'alert',
    alert: {
      kind: 'new_companion',
      severity,
      anchor: `t13d1516h2_8daaf6152771_${String(n).padStart(12, '0')}`,
      companion: '64240_2-4-8-1-3_1460_7',
      count: 1,
      total_seen: 50 + n,
      message: `alert #${n}: new ja4t for a ja4 seen ${50 + n} times — "quoted" \\ unicode ✓`,
    },
    flow: { src_ip: '192.0.2.10', src_port: 40000 + (n % 20000), dest_ip: '198.51.100.7', dest_port: 443, proto: 'TCP' },
  };
}

export function testConfig(url: string, sensorId: string, extra: MqttConfigSection = {}): MqttConfig {
  return resolveMqttConfig({ url, reconnect: { min_seconds: 0.1, max_seconds: 1 }, ...extra }, { sensorId })!;
}

export interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

/** A subscriber that records everything it receives, in order. */
export class Collector {
  readonly messages: Received[] = [];
  private constructor(readonly client: MqttClient) {
    // Reconnect attempts while a test has the broker down fail with errors; they are expected.
    client.on('error', () => undefined);
    client.on('message', (topic, payload, packet) =>
      this.messages.push({ topic, payload: payload.toString(), retain: packet.retain }),
    );
  }

  static async connect(url: string, topics: string | string[], opts: IClientOptions = {}): Promise<Collector> {
    const client = await connectAsync(url, { reconnectPeriod: 100, connectTimeout: 5000, ...opts });
    const c = new Collector(client);
    await client.subscribeAsync(topics, { qos: 1 });
    return c;
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  async waitFor(pred: (msgs: Received[]) => boolean, timeoutMs = 10_000, what = 'messages'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.messages)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${this.messages.length}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

export async function until(pred: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Collects what a publisher logs, so tests can check the messages a person would read. */
export function captureLog(): { lines: string[]; log: Logger } {
  const lines: string[] = [];
  return { lines, log: (level, message) => void lines.push(`${level} ${message}`) };
}
