/**
 * Process deaths and restarts: the last will of a SIGKILLed sensor, and an outbox left non-empty by a
 * killed or stopped sensor being delivered, in order, by the next one. The killed sensor is a real
 * child process running the built publisher (dist/), so `npm run build` must have run (make test does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { freePort, startBroker, type Broker } from '../helpers/mosquitto.js';
import { Collector, captureLog, makeAlert, openSensorDb, testConfig, until } from '../helpers/mqtt-fixtures.js';

const CHILD = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'publisher-child.mjs');

let broker: Broker;
let dir: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  broker = await startBroker();
  process.stdout.write(`MQTT tests ran against: ${broker.kind}\n`);
});
afterAll(async () => broker?.close());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ja4-restart-'));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface ChildEvent {
  event: string;
  state?: string;
  count?: number;
}

function startChild(opts: object): { child: ChildProcess; events: ChildEvent[]; exited: Promise<void> } {
  const child = spawn(process.execPath, [CHILD, JSON.stringify(opts)], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const events: ChildEvent[] = [];
  let buf = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      events.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  });
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.once('exit', (code) => {
    if (code === 2) events.push({ event: `child failed: ${err.trim()}` });
  });
  return { child, events, exited };
}

async function waitEvent(events: ChildEvent[], pred: (e: ChildEvent) => boolean, what: string): Promise<void> {
  await until(() => events.some(pred) || events.some((e) => e.event.startsWith('child failed')), 10_000, what);
  const failed = events.find((e) => e.event.startsWith('child failed'));
  if (failed) throw new Error(failed.event);
}

test('a SIGKILLed sensor leaves a retained "offline" status through its last will', async () => {
  const sub = await Collector.connect(broker.url, 'sensor/child-a/status');
  try {
    const { child, events, exited } = startChild({ url: broker.url, sensorId: 'child-a', dbPath: join(dir, 'a.db') });
    await waitEvent(events, (e) => e.state === 'online', 'child online');
    await sub.waitFor((m) => m.some((x) => x.payload === 'online'), 5000, 'online');

    child.kill('SIGKILL');
    await exited;
    await sub.waitFor((m) => m.at(-1)?.payload === 'offline', 5000, 'the last will');
    expect(sub.messages.map((m) => m.payload)).toEqual(['online', 'offline']);

    const later = await Collector.connect(broker.url, 'sensor/child-a/status');
    await later.waitFor((m) => m.length > 0, 5000, 'retained status');
    expect(later.messages).toEqual([{ topic: 'sensor/child-a/status', payload: 'offline', retain: true }]);
    await later.close();
  } finally {
    await sub.close();
  }
});

test('alerts of severity high are on disk at once: a sensor killed while the broker is down delivers them after restart', async () => {
  const dbPath = join(dir, 'b.db');
  const deadUrl = `mqtt://127.0.0.1:${await freePort()}`; // nothing listens here
  const alerts = [
    { n: 1, severity: 'medium' },
    { n: 2, severity: 'low' },
    { n: 3, severity: 'high' }, // writes 1..3 at once, in order
    { n: 4, severity: 'info' },
    { n: 5, severity: 'critical' }, // writes 4..5
  ];
  const { child, events, exited } = startChild({ url: deadUrl, sensorId: 'child-b', dbPath, alerts });
  await waitEvent(events, (e) => e.event === 'enqueued', 'alerts enqueued');
  child.kill('SIGKILL'); // no flush, no clean stop
  await exited;

  const db = openSensorDb(dbPath);
  expect(db.prepare('SELECT count(*) AS n FROM alert_outbox').get()).toEqual({ n: 5 });
  const sub = await Collector.connect(broker.url, 'sensor/child-b/alerts');
  const p = new MqttPublisher({ config: testConfig(broker.url, 'child-b'), sensorId: 'child-b', db, log: captureLog().log, flushIntervalMs: 0 });
  try {
    p.start();
    await sub.waitFor((m) => m.length >= 5, 5000, 'the five stored alerts');
    expect(sub.messages.map((m) => JSON.parse(m.payload).alert.anchor)).toEqual(alerts.map((a) => `anchor-${a.n}`));
    expect(sub.messages.map((m) => JSON.parse(m.payload).alert.severity)).toEqual(alerts.map((a) => a.severity));
  } finally {
    await p.stop({ drainMs: 1000 });
    await sub.close();
  }
  expect(db.prepare('SELECT count(*) AS n FROM alert_outbox').get()).toEqual({ n: 0 });
  db.close();
});

test('a sensor stopped while the broker is down keeps its outbox; the next start delivers it in order', async () => {
  const dbPath = join(dir, 'c.db');
  const deadUrl = `mqtt://127.0.0.1:${await freePort()}`;
  const alerts = Array.from({ length: 40 }, (_, i) => makeAlert(i + 1, i % 2 ? 'low' : 'medium', 'stopper'));

  const db1 = openSensorDb(dbPath);
  const first = new MqttPublisher({ config: testConfig(deadUrl, 'stopper'), sensorId: 'stopper', db: db1, log: captureLog().log, flushIntervalMs: 0 });
  first.start();
  for (const a of alerts) first.enqueue(a);
  expect(db1.prepare('SELECT count(*) AS n FROM alert_outbox').get()).toEqual({ n: 0 }); // staged: no write per alert
  const t0 = Date.now();
  await first.stop();
  expect(Date.now() - t0).toBeLessThan(1000); // no broker: stop does not wait for one
  expect(db1.prepare('SELECT count(*) AS n FROM alert_outbox').get()).toEqual({ n: 40 });
  expect(first.status().outbox.writes).toBe(1); // 40 alerts, one transaction
  db1.close();

  const db2 = openSensorDb(dbPath);
  const sub = await Collector.connect(broker.url, 'sensor/stopper/alerts');
  const second = new MqttPublisher({ config: testConfig(broker.url, 'stopper'), sensorId: 'stopper', db: db2, log: captureLog().log, flushIntervalMs: 0 });
  try {
    second.start();
    await sub.waitFor((m) => m.length >= 40, 5000, 'forty alerts');
    expect(sub.messages.map((m) => m.payload)).toEqual(alerts.map((a) => JSON.stringify(a)));
  } finally {
    await second.stop();
    await sub.close();
  }
  expect(db2.prepare('SELECT count(*) AS n FROM alert_outbox').get()).toEqual({ n: 0 });
  db2.close();
});
