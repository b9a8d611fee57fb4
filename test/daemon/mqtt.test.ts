/**
 * sensord with MQTT, end to end: the real daemon on the demo capture publishes its alert, stats and
 * status to a real broker on loopback; with the broker down, the alert waits in the outbox and the
 * next run delivers it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startBroker, freePort, type Broker } from '../helpers/mosquitto.js';
import { Collector } from '../helpers/mqtt-fixtures.js';
import { DEMO_PCAP, SENSORD, jsonLines, requireBuild, runNode } from '../helpers/subprocess.js';

let dir: string;
let broker: Broker | null = null;
beforeAll(() => requireBuild());
beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'sensord-mqtt-')); });
afterEach(async () => {
  await broker?.close();
  broker = null;
  rmSync(dir, { recursive: true, force: true });
});

test('alerts, stats and status reach the broker; the alert JSON is exactly what stdout printed', async () => {
  broker = await startBroker();
  const sub = await Collector.connect(broker.url, 'sensor/#');
  const cfg = path.join(dir, 'sensor.yaml');
  writeFileSync(cfg, 'sensor_id: demo-pi\n');
  const r = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', path.join(dir, 's.db'), '--config', cfg, '--mqtt-url', broker.url]);
  expect(r.code).toBe(0);
  const printed = r.stdout.split('\n').filter((l) => l.trim() !== '');
  expect(printed.length).toBeGreaterThan(0);
  await sub.waitFor((m) => m.filter((x) => x.topic === 'sensor/demo-pi/alerts').length === printed.length, 10_000, 'the alerts');
  expect(sub.on('sensor/demo-pi/alerts').map((m) => m.payload)).toEqual(printed);
  await sub.waitFor((m) => m.some((x) => x.topic === 'sensor/demo-pi/status' && x.payload === 'offline'), 10_000, 'offline status');
  const statuses = sub.on('sensor/demo-pi/status').map((m) => m.payload);
  expect(statuses[0]).toBe('online');
  expect(statuses[statuses.length - 1]).toBe('offline');
  const stats = sub.on('sensor/demo-pi/stats').map((m) => JSON.parse(m.payload) as { packets: number; alerts: number; mqtt: { alerts_published: number; outbox_pending: number } });
  expect(stats.reduce((n, s) => n + s.packets, 0)).toBe(865);
  expect(stats.reduce((n, s) => n + s.alerts, 0)).toBe(printed.length);
  // The final stats come after the shutdown drain: they count the alert as delivered, none pending.
  expect(stats.reduce((n, s) => n + s.mqtt.alerts_published, 0)).toBe(printed.length);
  expect(stats[stats.length - 1]!.mqtt.outbox_pending).toBe(0);
  await sub.close();
});

test('with the broker down the alert stays in the outbox, and the next run delivers it', async () => {
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  const db = path.join(dir, 's.db');
  const first = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', db, '--mqtt-url', url]);
  expect(first.code).toBe(0);
  const alerts = jsonLines(first.stdout);
  expect(alerts.length).toBeGreaterThan(0);
  const conn = new Database(db, { readonly: true });
  const pending = conn.prepare('SELECT payload FROM alert_outbox ORDER BY id').all() as { payload: string }[];
  conn.close();
  expect(pending.map((p) => p.payload)).toEqual(first.stdout.split('\n').filter((l) => l.trim() !== ''));

  broker = await startBroker();
  const sub = await Collector.connect(broker.url, 'sensor/+/alerts');
  // An empty capture run: nothing new, but the outbox is delivered.
  const second = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', db, '--mqtt-url', broker.url, '--config', writeMinSeenHigh()]);
  expect(second.code).toBe(0);
  await sub.waitFor((m) => m.length >= pending.length, 10_000, 'the pending alerts');
  expect(sub.messages.slice(0, pending.length).map((m) => m.payload)).toEqual(pending.map((p) => p.payload));
  const after = new Database(db, { readonly: true });
  expect((after.prepare('SELECT COUNT(*) AS n FROM alert_outbox').get() as { n: number }).n).toBe(0);
  after.close();
  await sub.close();
});

function writeMinSeenHigh(): string {
  // A second replay with an unreachable min_seen raises no new alert, so only the outbox is sent.
  const f = path.join(dir, 'quiet.json');
  writeFileSync(f, JSON.stringify({ min_seen: 1000000 }));
  return f;
}
