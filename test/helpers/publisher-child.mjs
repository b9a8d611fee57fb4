// A sensor stand-in for tests that must kill a real process: runs the built MqttPublisher (dist/) on a
// SQLite file, enqueues the alerts it is told to, and reports progress as JSON lines on stdout.
// Argument: JSON {url, sensorId, dbPath, alerts?: [{n, severity}], reconnect?: {...}}.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = join(root, 'dist', 'mqtt', 'index.js');
if (!existsSync(entry)) {
  process.stderr.write(`publisher-child: ${entry} is missing; run \`npm run build\` first (make test does)\n`);
  process.exit(2);
}
const { MqttPublisher, resolveMqttConfig } = await import(entry);
const { openSensorDb } = await import(join(root, 'dist', 'storage', 'db.js'));

const opts = JSON.parse(process.argv[2]);
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const { db } = openSensorDb(opts.dbPath, { sensorId: opts.sensorId });
const config = resolveMqttConfig({ url: opts.url, reconnect: { min_seconds: 0.1, max_seconds: 0.5 } }, { sensorId: opts.sensorId });
const publisher = new MqttPublisher({ config, sensorId: opts.sensorId, db, flushIntervalMs: 0 });
publisher.on('state', (state) => say({ event: 'state', state }));
publisher.start();
for (const a of opts.alerts ?? []) {
  publisher.enqueue({
    timestamp: new Date(Date.UTC(2025, 0, 1, 0, 0, 0, a.n)).toISOString(),
    sensor_id: opts.sensorId,
    event_type: 'alert',
    alert: { kind: 'new_companion', severity: a.severity, anchor: `anchor-${a.n}`, companion: 'c', count: 1, total_seen: 50 + a.n, message: `child alert ${a.n}` },
    flow: { src_ip: '192.0.2.1', src_port: 1, dest_ip: '192.0.2.2', dest_port: 2, proto: 'TCP' },
  });
}
say({ event: 'enqueued', count: (opts.alerts ?? []).length, outbox: publisher.status().outbox });
// Stay alive until killed.
setInterval(() => undefined, 60_000);
