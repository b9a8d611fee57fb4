/**
 * What the broker's access control does to alerts: with MQTT 5 a refused publish is reported
 * (PUBACK reason code) and the alert stays in the outbox until the broker takes it; a broker that
 * speaks only 3.1.1 (aedes) is still used, after a fallback the log states.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { brokerKind, startBroker, type Broker } from '../helpers/mosquitto.js';
import { Collector, captureLog, makeAlert, openSensorDb, testConfig, until } from '../helpers/mqtt-fixtures.js';

let dir: string;
let db: Database.Database;
const cleanups: (() => Promise<void> | void)[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ja4-acl-'));
  db = openSensorDb(join(dir, 'sensor.db'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function publisher(broker: Broker, sensorId: string) {
  const { log, lines } = captureLog();
  const p = new MqttPublisher({ config: testConfig(broker.url, sensorId, {}), sensorId, db, log, flushIntervalMs: 0 });
  cleanups.push(() => p.stop({ drainMs: 200 }));
  return { p, lines };
}

const mosquitto = brokerKind() === 'mosquitto';
if (!mosquitto) console.warn('acl: the ACL case is skipped: it needs mosquitto (bash scripts/install-test-deps.sh)');
const DENY_ALERTS = 'topic readwrite sensor/+/status\ntopic readwrite sensor/+/health\ntopic readwrite sensor/+/stats\ntopic read #\n';

(mosquitto ? test : test.skip)('an alert the ACL refuses is reported and kept; once the ACL allows it, it is delivered', async () => {
  const broker = await startBroker({ acl: DENY_ALERTS, maxQueued: 1000 });
  cleanups.push(() => broker.close());
  const sub = await Collector.connect(broker.url, 'sensor/acl-a/#');
  cleanups.push(() => sub.close());
  const { p, lines } = publisher(broker, 'acl-a');
  p.start();
  const alert = makeAlert(1, 'high');
  p.enqueue(alert);
  await until(() => lines.some((l) => l.includes('refuses alerts')), 10_000, 'the refusal logged');
  expect(lines.find((l) => l.includes('refuses alerts'))).toMatch(
    /^error mqtt: the broker at mqtt:\/\/127\.0\.0\.1:\d+ refuses alerts on sensor\/acl-a\/alerts: Not authorized \(reason code 0x87\); check its ACL for this client\. The alerts stay in the outbox; next attempt in/,
  );
  expect(lines.some((l) => l.includes('(MQTT 5)'))).toBe(true);
  expect(p.status().lastError).toMatch(/refuses alerts/);
  expect(p.status().state).toBe('online');
  // Retried (the test's backoff is 0.1-1 s), still refused, logged once, never acknowledged.
  await new Promise((r) => setTimeout(r, 1500));
  expect(lines.filter((l) => l.includes('refuses alerts'))).toHaveLength(1);
  p.flush();
  expect(db.prepare('SELECT count(*) AS n FROM alert_outbox').get()).toEqual({ n: 1 });
  expect(sub.on('sensor/acl-a/alerts')).toHaveLength(0);

  await broker.setAcl(`${DENY_ALERTS}topic write sensor/+/alerts\n`);
  await sub.waitFor((m) => m.some((x) => x.topic === 'sensor/acl-a/alerts'), 10_000, 'the alert, once allowed');
  expect(sub.on('sensor/acl-a/alerts').map((m) => m.payload)).toEqual([JSON.stringify(alert)]);
  await until(() => p.status().outbox.pending === 0, 5000, 'outbox drained');
  expect(p.status().lastError).toBeNull();
  expect(lines.some((l) => l === 'info mqtt: the broker accepts alerts on sensor/acl-a/alerts again')).toBe(true);
});

test('a broker that speaks only MQTT 3.1.1 is used after a fallback the log states', async () => {
  const broker = await startBroker({ kind: 'aedes' });
  cleanups.push(() => broker.close());
  const sub = await Collector.connect(broker.url, 'sensor/v4/alerts', { protocolVersion: 4 });
  cleanups.push(() => sub.close());
  const { p, lines } = publisher(broker, 'v4');
  p.start();
  p.enqueue(makeAlert(1, 'low'));
  await sub.waitFor((m) => m.length === 1, 10_000, 'the alert');
  expect(lines.filter((l) => l.startsWith('info mqtt:'))).toEqual([
    expect.stringMatching(/does not speak MQTT 5; using 3\.1\.1/),
    expect.stringMatching(/connected to .* \(MQTT 3\.1\.1\)$/),
  ]);
  expect(lines.some((l) => l.startsWith('warn') || l.startsWith('error'))).toBe(false);
});
