/** TLS with a test CA (made with openssl here), client certificates, passwords, and websockets. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { MqttConfigSection } from '../../src/mqtt/config.js';
import { MqttPublisher, type PublisherState } from '../../src/mqtt/publisher.js';
import { startBroker, type Broker } from '../helpers/mosquitto.js';
import { Collector, captureLog, makeAlert, openSensorDb, testConfig, until } from '../helpers/mqtt-fixtures.js';
import { makeTestPki, type TestPki } from '../helpers/testca.js';

let dir: string;
let pki: TestPki;
let tlsBroker: Broker; // TLS + password, plus a websocket listener
let certBroker: Broker; // TLS, client certificate required, no passwords
let db: Database.Database;
const stops: (() => Promise<void>)[] = [];
const USERS = { sensor: 's3cret-pass', watcher: 'w4tch' };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ja4-tls-'));
  pki = makeTestPki(dir);
  const tls = { caFile: pki.caFile, certFile: pki.serverCert, keyFile: pki.serverKey };
  tlsBroker = await startBroker({ tls, users: USERS, websockets: true });
  certBroker = await startBroker({ tls: { ...tls, requireCertificate: true } });
  process.stdout.write(`MQTT tests ran against: ${tlsBroker.kind}\n`);
});
afterAll(async () => {
  await tlsBroker?.close();
  await certBroker?.close();
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  db = openSensorDb(join(dir, `sensor-${Date.now()}-${Math.random()}.db`));
});
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
  db.close();
});

function publisher(url: string, sensorId: string, extra: MqttConfigSection) {
  const { log, lines } = captureLog();
  const p = new MqttPublisher({ config: testConfig(url, sensorId, extra), sensorId, db, log, flushIntervalMs: 0 });
  const states: PublisherState[] = [];
  p.on('state', (s: PublisherState) => states.push(s));
  stops.push(() => p.stop({ drainMs: 200 }));
  return { p, lines, states };
}

async function watcher(broker: Broker, topic: string, url = broker.url): Promise<Collector> {
  const tlsOpts = url.startsWith('mqtts')
    ? broker === certBroker
      ? { ca: [pki.caFile], cert: pki.clientCert, key: pki.clientKey }
      : { ca: [pki.caFile], username: 'watcher', password: USERS.watcher }
    : { username: 'watcher', password: USERS.watcher };
  const { readFileSync } = await import('node:fs');
  const opts = {
    ...tlsOpts,
    ...('ca' in tlsOpts ? { ca: readFileSync(pki.caFile) } : {}),
    ...('cert' in tlsOpts ? { cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) } : {}),
  };
  const c = await Collector.connect(url, topic, opts);
  stops.push(() => c.close());
  return c;
}

test('mqtts:// with a test CA and a password delivers alerts', async () => {
  const sub = await watcher(tlsBroker, 'sensor/tls-pw/alerts');
  const { p } = publisher(tlsBroker.url, 'tls-pw', { ca: pki.caFile, username: 'sensor', password: USERS.sensor });
  p.start();
  p.enqueue(makeAlert(1, 'high', 'tls-pw'));
  await sub.waitFor((m) => m.length === 1, 5000, 'alert over TLS');
  expect(sub.messages[0]!.payload).toBe(JSON.stringify(makeAlert(1, 'high', 'tls-pw')));
});

test('mqtts:// with a client certificate and no password delivers alerts', async () => {
  const sub = await watcher(certBroker, 'sensor/tls-cert/alerts');
  const { p } = publisher(certBroker.url, 'tls-cert', { ca: pki.caFile, cert: pki.clientCert, key: pki.clientKey });
  p.start();
  p.enqueue(makeAlert(2, 'medium', 'tls-cert'));
  await sub.waitFor((m) => m.length === 1, 5000, 'alert with client cert');
  expect(JSON.parse(sub.messages[0]!.payload)).toEqual(makeAlert(2, 'medium', 'tls-cert'));
});

test('a broker certificate from an unknown CA is refused with a clear message', async () => {
  const { p, lines } = publisher(tlsBroker.url, 'tls-bad-ca', { ca: pki.otherCaFile, username: 'sensor', password: USERS.sensor });
  p.start();
  await until(() => p.status().lastError !== null, 5000, 'a TLS error');
  expect(p.status().state).not.toBe('online');
  expect(p.status().lastError).toMatch(/^TLS with mqtts:\/\/127\.0\.0\.1:\d+ failed: .+ \(check mqtt\.ca\/cert\/key and the system clock\)$/);
  expect(lines.find((l) => l.startsWith('warn mqtt: TLS with'))).toMatch(/next attempt in \d+\.\d s$/);
});

test('a wrong password gives one clear error and no rapid retries', async () => {
  const { p, lines, states } = publisher(tlsBroker.url, 'wrong-pw', {
    ca: pki.caFile,
    username: 'sensor',
    password: 'not-the-password',
    reconnect: { min_seconds: 0.05, max_seconds: 0.1 }, // would spin 10+ times a second if auth failure used it
  });
  p.start();
  await until(() => p.status().state === 'auth_failed', 5000, 'auth_failed');
  await new Promise((r) => setTimeout(r, 1500));
  expect(states.filter((s) => s === 'connecting')).toHaveLength(1);
  expect(p.status().state).toBe('auth_failed');
  expect(p.status().lastError).toMatch(
    /^the broker at mqtts:\/\/127\.0\.0\.1:\d+ refused user 'sensor': (not authorized|bad username or password) \(check mqtt\.username\/password\/cert and the broker's ACL\)$/,
  );
  const errors = lines.filter((l) => l.startsWith('error '));
  expect(errors).toHaveLength(1);
  expect(errors[0]).toMatch(/; next attempt in 300\.0 s$/);
  expect(errors[0]).not.toContain('not-the-password');
});

test('a password file works in place of a password', async () => {
  const pwFile = join(dir, 'mqtt-password');
  writeFileSync(pwFile, `${USERS.sensor}\n`, { mode: 0o600 });
  const sub = await watcher(tlsBroker, 'sensor/pwfile/status');
  const { p } = publisher(tlsBroker.url, 'pwfile', { ca: pki.caFile, username: 'sensor', password_file: pwFile });
  p.start();
  await sub.waitFor((m) => m.some((x) => x.payload === 'online'), 5000, 'online');
});

test('ws:// (websockets) delivers alerts', async () => {
  const sub = await watcher(tlsBroker, 'sensor/ws/alerts', tlsBroker.wsUrl);
  const { p } = publisher(tlsBroker.wsUrl!, 'ws', { username: 'sensor', password: USERS.sensor });
  p.start();
  p.enqueue(makeAlert(3, 'low', 'ws'));
  await sub.waitFor((m) => m.length === 1, 5000, 'alert over websockets');
  expect(sub.messages[0]!.payload).toBe(JSON.stringify(makeAlert(3, 'low', 'ws')));
});

test('an unreadable CA file is a clear config error at start', () => {
  const { p } = publisher(tlsBroker.url, 'no-ca', { ca: join(dir, 'missing-ca.pem') });
  expect(() => p.start()).toThrow(/^config mqtt\.ca: cannot read \/.*missing-ca\.pem \(ENOENT: no such file or directory\)$/);
});
