/** The `mqtt` config section: off by default, the --mqtt-url override, defaults and clear errors. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeTestPki } from '../helpers/testca.js';
import { reconnectDelay } from '../../src/mqtt/backoff.js';
import { checkMqttSettings, MQTT_DEFAULTS, resolveMqttConfig } from '../../src/mqtt/config.js';
import { clientIdForSensor, defaultTopicPrefix, topicsFor } from '../../src/mqtt/topics.js';

test('MQTT is off when no broker is configured, and an empty --mqtt-url turns it off', () => {
  expect(resolveMqttConfig(undefined, { sensorId: 's1' })).toBeNull();
  expect(resolveMqttConfig({}, { sensorId: 's1' })).toBeNull();
  expect(resolveMqttConfig({ url: '' }, { sensorId: 's1' })).toBeNull();
  expect(resolveMqttConfig({ url: 'mqtt://b:1883' }, { sensorId: 's1', urlOverride: '' })).toBeNull();
});

test('--mqtt-url overrides the file; defaults follow the sensor id', () => {
  const c = resolveMqttConfig({ url: 'mqtt://file:1883', username: 'u' }, { sensorId: 'pi-kitchen', urlOverride: 'mqtts://cli:8883' })!;
  expect(c).toMatchObject({
    url: 'mqtts://cli:8883',
    username: 'u',
    clientId: 'ja4-pi-kitchen',
    topicPrefix: 'sensor/pi-kitchen',
    keepaliveS: MQTT_DEFAULTS.keepalive_seconds,
    reconnectMinMs: 1000,
    reconnectMaxMs: 60_000,
    authRetryMs: 300_000,
    maxInflight: 16,
    outboxMaxRows: 10_000,
    outboxMaxAgeMs: 7 * 24 * 3600 * 1000,
    rejectUnauthorized: true,
    homeAssistant: { enabled: false, discoveryPrefix: 'homeassistant' },
  });
  expect(resolveMqttConfig({ url: 'ws://b:9001/mqtt', topic_prefix: 'home/ja4', client_id: 'mine' }, { sensorId: 'x' }))
    .toMatchObject({ url: 'ws://b:9001/mqtt', topicPrefix: 'home/ja4', clientId: 'mine' });
});

test('invalid sections fail with a message naming the key', () => {
  const bad = (section: object, re: RegExp) => expect(() => resolveMqttConfig(section, { sensorId: 's' })).toThrow(re);
  bad({ url: 'http://broker' }, /^config mqtt\.url: 'http:\/\/broker' must be mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\/ followed by host\[:port\]$/);
  bad({ url: 'mqtt://b', port: 1883 }, /^config mqtt: must NOT have additional properties$/);
  bad({ url: 'mqtt://b', topic_prefix: 'sensor/+/x' }, /^config mqtt\.topic_prefix: 'sensor\/\+\/x' must not contain/);
  bad({ url: 'mqtt://b', topic_prefix: 'sensor/' }, /^config mqtt\.topic_prefix: /);
  bad({ url: 'mqtt://b', cert: '/c.pem' }, /^config mqtt: must have property key when property cert is present$/);
  bad({ url: 'mqtt://b', password: 'p', password_file: '/f' }, /^config mqtt: set either password or password_file, not both$/);
  bad({ url: 'mqtt://b', reconnect: { min_seconds: 10, max_seconds: 5 } }, /^config mqtt\.reconnect: max_seconds must be at least min_seconds$/);
  bad({ url: 'mqtt://b', max_inflight: 0 }, /^config mqtt\.max_inflight: must be >= 1$/);
  // Values the client library would crash on, or retry forever.
  bad({ url: 'mqtt://127.0.0.1:99999' }, /^config mqtt\.url: 'mqtt:\/\/127\.0\.0\.1:99999' is not a valid URL \(host, then an optional :port from 1 to 65535\)$/);
  bad({ url: 'mqtt://127.0.0.1:abc' }, /is not a valid URL/);
  bad({ url: 'mqtt://127.0.0.1:0' }, /has port 0/);
  bad({ url: 'mqtt://%zz' }, /has a malformed %-escape/);
  bad({ url: 'mqtt://b', username: 'u'.repeat(70_000) }, /^config mqtt\.username: must NOT have more than 4096 characters$/);
  bad({ url: 'mqtt://b', topic_prefix: 't'.repeat(2000) }, /^config mqtt\.topic_prefix: must NOT have more than 1024 characters$/);
});

test('checkMqttSettings also finds the files it names missing or unreadable, before anything starts', () => {
  expect(() => checkMqttSettings({ url: 'mqtt://b', ca: '/nonexistent/ca.pem' }, 's')).toThrow(/^config mqtt\.ca: \/nonexistent\/ca\.pem does not exist$/);
  expect(() => checkMqttSettings({ url: 'mqtt://b', password_file: '/' }, 's')).toThrow(/^config mqtt\.password_file: \/ is not a regular file$/);
  expect(() => checkMqttSettings({}, 's')).not.toThrow();
});

test('topics and client ids are safe whatever the sensor id', () => {
  expect(topicsFor('sensor/a')).toEqual({ alerts: 'sensor/a/alerts', status: 'sensor/a/status', health: 'sensor/a/health', stats: 'sensor/a/stats' });
  expect(defaultTopicPrefix('lab/#1+x')).toBe('sensor/lab__1_x');
  expect(clientIdForSensor('pi-01')).toBe('ja4-pi-01');
  const long = clientIdForSensor('a-very-long-sensor-name.example.org');
  expect(long).toMatch(/^ja4-averylongs-[0-9a-f]{8}$/);
  expect(long.length).toBeLessThanOrEqual(23);
  expect(clientIdForSensor('a-very-long-sensor-name.example.org')).toBe(long); // stable
  expect(clientIdForSensor('a-very-long-sensor-name.example.net')).not.toBe(long);
});

test('reconnect delays grow exponentially with jitter and stay under the cap', () => {
  const opts = { minMs: 1000, maxMs: 60_000 };
  expect(reconnectDelay(0, opts, () => 0)).toBe(500);
  expect(reconnectDelay(0, opts, () => 1)).toBe(1000);
  expect(reconnectDelay(3, opts, () => 1)).toBe(8000);
  expect(reconnectDelay(3, opts, () => 0)).toBe(4000);
  expect(reconnectDelay(10, opts, () => 1)).toBe(60_000);
  expect(reconnectDelay(1000, opts, () => 0.5)).toBe(45_000);
  const draws = Array.from({ length: 200 }, () => reconnectDelay(6, opts));
  expect(new Set(draws).size).toBeGreaterThan(50); // jitter: a fleet does not reconnect in lockstep
  expect(Math.min(...draws)).toBeGreaterThanOrEqual(30_000);
  expect(Math.max(...draws)).toBeLessThanOrEqual(60_000);
});

test('TLS files must parse and belong together: found before start-up, not as a crash in the MQTT client', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mqtt-pki-'));
  try {
    const pki = makeTestPki(dir);
    const tls = (over: Record<string, string>) => () => checkMqttSettings({ url: 'mqtts://b', ca: pki.caFile, cert: pki.clientCert, key: pki.clientKey, ...over }, 's');
    expect(tls({})).not.toThrow();
    expect(tls({ key: pki.serverKey })).toThrow(/^config mqtt\.key: .*server\.key is not the key of the certificate in mqtt\.cert \(.*client\.crt\)$/);
    const garbage = path.join(dir, 'garbage.pem');
    fs.writeFileSync(garbage, 'not a pem file\n');
    expect(tls({ key: garbage })).toThrow(/^config mqtt\.key: .*garbage\.pem is not a PEM private key$/);
    expect(tls({ cert: garbage })).toThrow(/^config mqtt\.cert: .*garbage\.pem is not a PEM certificate$/);
    expect(tls({ ca: garbage })).toThrow(/^config mqtt\.ca: .*garbage\.pem holds no PEM certificate/);
    const encrypted = path.join(dir, 'enc.key');
    execFileSync('openssl', ['pkey', '-in', pki.clientKey, '-aes256', '-passout', 'pass:secret', '-out', encrypted]);
    expect(tls({ key: encrypted })).toThrow(/^config mqtt\.key: .*enc\.key is encrypted; the sensor needs an unencrypted key/);
    // A CA bundle of several certificates is fine.
    const bundle = path.join(dir, 'bundle.pem');
    fs.writeFileSync(bundle, fs.readFileSync(pki.caFile, 'latin1') + fs.readFileSync(pki.otherCaFile, 'latin1'));
    expect(tls({ ca: bundle })).not.toThrow();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
