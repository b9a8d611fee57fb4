/** MqttPublisher against a real broker process on loopback (mosquitto, or aedes where it is missing). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { startBroker, type Broker } from '../helpers/mosquitto.js';
import { Collector, captureLog, makeAlert, openSensorDb, testConfig, until } from '../helpers/mqtt-fixtures.js';

let broker: Broker;
let dir: string;
let db: Database.Database;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  broker = await startBroker();
  process.stdout.write(`MQTT tests ran against: ${broker.kind}\n`);
});
afterAll(async () => broker?.close());

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ja4-mqtt-'));
  db = openSensorDb(join(dir, 'sensor.db'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function publisher(sensorId: string, extra = {}): MqttPublisher {
  const p = new MqttPublisher({ config: testConfig(broker.url, sensorId, extra), sensorId, db, log: captureLog().log, flushIntervalMs: 0 });
  cleanups.push(() => p.stop({ drainMs: 200 }));
  return p;
}

async function collector(topics: string | string[]): Promise<Collector> {
  const c = await Collector.connect(broker.url, topics);
  cleanups.push(() => c.close());
  return c;
}

test('alerts arrive on <prefix>/alerts with exactly the JSON that was stored, QoS 1, not retained', async () => {
  const sub = await collector('sensor/pi-a/#');
  const p = publisher('pi-a');
  p.start();
  const alerts = [makeAlert(1, 'low'), makeAlert(2, 'high'), makeAlert(3, 'critical'), makeAlert(4, 'info')];
  for (const a of alerts) p.enqueue(a);
  await sub.waitFor((m) => m.filter((x) => x.topic === 'sensor/pi-a/alerts').length === 4, 10_000, 'four alerts');

  const got = sub.on('sensor/pi-a/alerts');
  expect(got.map((m) => m.payload)).toEqual(alerts.map((a) => JSON.stringify(a)));
  expect(got.map((m) => JSON.parse(m.payload))).toEqual(alerts);
  expect(got.every((m) => !m.retain)).toBe(true);
  // Everything was acknowledged, so the outbox is empty once flushed.
  await until(() => p.status().outbox.pending === 0, 5000, 'outbox drained');
  p.flush();
  expect(db.prepare('SELECT count(*) AS n FROM alert_outbox').get()).toEqual({ n: 0 });
});

test('status is online (retained) while connected and offline (retained) after a clean stop', async () => {
  const p = publisher('pi-b');
  p.start();
  await until(() => p.status().state === 'online', 5000, 'online');
  // A subscriber that arrives later sees the retained status.
  const late = await collector('sensor/pi-b/status');
  await late.waitFor((m) => m.length >= 1, 5000, 'retained status');
  expect(late.messages[0]).toEqual({ topic: 'sensor/pi-b/status', payload: 'online', retain: true });

  await p.stop();
  await late.waitFor((m) => m.some((x) => x.payload === 'offline'), 5000, 'offline');
  const after = await collector('sensor/pi-b/status');
  await after.waitFor((m) => m.length >= 1, 5000, 'retained offline');
  expect(after.messages[0]).toEqual({ topic: 'sensor/pi-b/status', payload: 'offline', retain: true });
  expect(p.status().state).toBe('stopped');
});

test('health is retained; stats carry the outbox figures', async () => {
  const p = publisher('pi-c');
  p.start();
  await until(() => p.status().state === 'online', 5000, 'online');
  p.publishHealth({ cpu_temp_c: 47.2, uptime_s: 100 });
  p.publishStats({ interval_seconds: 30, packets: 1000, flows: 12, fingerprints: 30, alerts: 0, flash_bytes_written: 4096 });

  const sub = await collector(['sensor/pi-c/health', 'sensor/pi-c/stats']);
  await sub.waitFor((m) => m.length >= 1, 5000, 'retained health');
  expect(sub.messages[0]!.retain).toBe(true);
  expect(JSON.parse(sub.messages[0]!.payload)).toEqual({ sensor_id: 'pi-c', cpu_temp_c: 47.2, uptime_s: 100 });

  p.publishStats({ interval_seconds: 30, packets: 2000, flows: 20, fingerprints: 40, alerts: 1, flash_bytes_written: 8192 });
  await sub.waitFor((m) => m.some((x) => x.topic === 'sensor/pi-c/stats'), 5000, 'stats');
  const stats = JSON.parse(sub.on('sensor/pi-c/stats')[0]!.payload);
  expect(stats).toMatchObject({ sensor_id: 'pi-c', packets: 2000, flash_bytes_written: 8192 });
  expect(stats.mqtt).toMatchObject({ outbox_pending: 0, outbox_dropped: 0, outbox_dropped_total: 0 });
});

test('Home Assistant discovery: retained configs, re-published when Home Assistant comes online', async () => {
  const sub = await collector('homeassistant/#');
  const p = publisher('pi-d', { homeassistant: { enabled: true } });
  p.start();
  await sub.waitFor((m) => m.some((x) => x.topic.endsWith('/alert/config')), 5000, 'discovery');
  const configs = sub.messages.filter((m) => m.topic.endsWith('/config'));
  const event = JSON.parse(configs.find((m) => m.topic === 'homeassistant/event/ja4_pi-d/alert/config')!.payload);
  expect(event).toMatchObject({ state_topic: 'sensor/pi-d/alerts', event_types: ['alert'], availability_topic: 'sensor/pi-d/status' });
  const temp = JSON.parse(configs.find((m) => m.topic === 'homeassistant/sensor/ja4_pi-d/cpu_temp/config')!.payload);
  expect(temp).toMatchObject({ state_topic: 'sensor/pi-d/health', device_class: 'temperature', unit_of_measurement: '°C' });
  const count = configs.length;

  // Home Assistant restarting announces itself; the sensor answers with its configs again.
  await sub.client.publishAsync('homeassistant/status', 'online');
  await sub.waitFor((m) => m.filter((x) => x.topic.endsWith('/config')).length >= 2 * count, 5000, 're-published discovery');
});

test('two sensors with the same client id back off instead of knocking each other off every second', async () => {
  const config = testConfig(broker.url, 'twin', { client_id: 'ja4-twin', reconnect: { min_seconds: 0.05, max_seconds: 0.8 } });
  const connects = [0, 0];
  const twins = [0, 1].map((i) => {
    const p = new MqttPublisher({ config, sensorId: 'twin', db, log: captureLog().log, flushIntervalMs: 0 });
    p.on('state', (s: string) => s === 'connecting' && connects[i]!++);
    cleanups.push(() => p.stop({ drainMs: 0 }));
    return p;
  });
  for (const p of twins) p.start();
  await new Promise((r) => setTimeout(r, 3000));
  // Reset-on-connect backoff would reconnect every ~50 ms here: 60+ attempts each in 3 s.
  expect(connects[0]! + connects[1]!).toBeLessThan(20);
  expect(connects[0]! + connects[1]!).toBeGreaterThan(2); // and they did fight
});
