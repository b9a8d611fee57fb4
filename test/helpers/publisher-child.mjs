// A sensor stand-in for tests that must kill a real process: runs the built MqttPublisher (dist/) on a
// SQLite file, enqueues the alerts it is told to, and reports progress as JSON lines on stdout.
// Argument: JSON {url, sensorId, dbPath, alerts?: [{n, severity}], reconnect?: {...}}.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const entry = join(root, 'dist', 'mqtt', 'index.js');
if (!existsSync(entry)) {
  process.stderr.write(`publisher-child: ${entry} is missing; run \`npm run build\` first (make test does)\n`);
  process.exit(2);
}
const { MqttPublisher, resolveMqttConfig } = await import(entry);

const opts = JSON.parse(process.argv[2]);
const say = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');
const db = new Database(opts.dbPath);
db.pragma('journal_mode = WAL');
db.exec(
  'CREATE TABLE IF NOT EXISTS alert_outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, created_at INTEGER NOT NULL, severity TEXT NOT NULL, payload TEXT NOT NULL)',
);
const config = resolveMqttConfig({ url: opts.url, reconnect: { min_s: 0.1, max_s: 0.5 } }, { sensorId: opts.sensorId });
const quiet = { info() {}, warn() {}, error() {}, debug() {} };
const publisher = new MqttPublisher({ config, sensorId: opts.sensorId, db, log: quiet, flushIntervalMs: 0 });
publisher.on('state', (state) => say({ event: 'state', state }));
publisher.start();
for (const a of opts.alerts ?? []) {
  publisher.enqueue({
    timestamp: new Date(Date.UTC(2025, 0, 1, 0, 0, 0, a.n)).toISOString(),
    sensor_id: opts.sensorId,
    event_type: 'alert',
    alert: { kind: 'new_companion', severity: a.severity, anchor: `anchor-${a.n}`, companion: 'c', count: 1, total_seen: 50 + a.n, message: `child alert ${a.n}` },
    flow: { src_ip: '192.0.2.1', src_port: 1, dest_ip: '192.0.2.2', dest_port: 2, proto: 'tcp' },
  });
}
say({ event: 'enqueued', count: (opts.alerts ?? []).length, outbox: publisher.status().outbox });
// Stay alive until killed.
setInterval(() => undefined, 60_000);
