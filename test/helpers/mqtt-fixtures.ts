/** Shared pieces for MQTT tests: a sensor DB with the outbox table, alerts, and a collecting subscriber. */
import Database from 'better-sqlite3';
import { connectAsync, type IClientOptions, type MqttClient } from 'mqtt';
import type { AlertMessage, Severity } from '../../src/mqtt/alert.js';
import { resolveMqttConfig, type MqttConfig, type MqttConfigSection } from '../../src/mqtt/config.js';

/** The outbox table exactly as the storage migrations create it. */
export const ALERT_OUTBOX_DDL =
  'CREATE TABLE IF NOT EXISTS alert_outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, created_at INTEGER NOT NULL, severity TEXT NOT NULL, payload TEXT NOT NULL)';

export function openSensorDb(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.exec(ALERT_OUTBOX_DDL);
  return db;
}

export function makeAlert(n: number, severity: Severity = 'medium', sensorId = 'test-sensor'): AlertMessage {
  return {
    timestamp: new Date(Date.UTC(2025, 0, 1, 0, 0, 0, n)).toISOString(),
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
    flow: { src_ip: '192.0.2.10', src_port: 40000 + (n % 20000), dest_ip: '198.51.100.7', dest_port: 443, proto: 'tcp' },
  };
}

export function testConfig(url: string, sensorId: string, extra: MqttConfigSection = {}): MqttConfig {
  return resolveMqttConfig({ url, reconnect: { min_s: 0.1, max_s: 1 }, ...extra }, { sensorId })!;
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
export function captureLog(): { lines: string[]; log: { info(m: string): void; warn(m: string): void; error(m: string): void; debug(m: string): void } } {
  const lines: string[] = [];
  return {
    lines,
    log: {
      info: (m) => lines.push(`info ${m}`),
      warn: (m) => lines.push(`warn ${m}`),
      error: (m) => lines.push(`error ${m}`),
      debug: (m) => lines.push(`debug ${m}`),
    },
  };
}
