/**
 * sensorctl against a real, running sensord (fed a real capture through a pipe it keeps open):
 * seeding into the live profiles gives exactly what seeding the file gives — no lost update when
 * the daemon flushes afterwards, no doubled one — plus status, alerts --follow, backup and import
 * through the control socket.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startBroker, freePort } from '../helpers/mosquitto.js';
import { DEMO_PCAP, SENSORD, Daemon, cli, cliAsync, exportRows, json, pcapRecords, tempDir, CLI } from './helpers.js';

let dir: string;
const daemons: Daemon[] = [];
beforeEach(() => { dir = tempDir(); });
afterEach(() => {
  for (const d of daemons.splice(0)) d.kill();
  fs.rmSync(dir, { recursive: true, force: true });
});

function start(db: string, args: string[] = []): Daemon {
  const d = new Daemon(db, args);
  daemons.push(d);
  return d;
}

/** A real profile database: sensord run over the demo capture. */
function demoDb(file: string): string {
  const r = spawnSync(process.execPath, [SENSORD, '--read', DEMO_PCAP, '--db', file, '-q'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sensord failed: ${r.stderr}`);
  return file;
}

const pcap = fs.readFileSync(DEMO_PCAP);
const { header, records } = pcapRecords(pcap);
const half = Math.floor(records.length / 2);
const firstHalf = Buffer.concat([header, ...records.slice(0, half)]);
const secondHalf = Buffer.concat(records.slice(half));

test('seeding into a running sensor equals seeding the file: no lost update, no doubled one', async () => {
  const src = demoDb(path.join(dir, 'src.db'));
  const seeded = exportRows(src);
  expect(seeded.length).toBeGreaterThan(0);

  // File path: seed first, then the daemon sees the whole capture.
  const a = path.join(dir, 'a.db');
  const fileSeed = cli(['seed', src, '--db', a, '--json']);
  expect(json(fileSeed)).toMatchObject({ outcome: 'applied', mode: 'file' });
  demoDb(a);

  // Live path: the daemon flushes every 50 ms throughout; the seed lands between the two halves.
  const b = path.join(dir, 'b.db');
  const d = start(b, ['--flush-interval', '0.05', '-q']);
  d.write(firstHalf);
  await d.ready(half);
  const live = cli(['seed', src, '--db', b, '--json']);
  expect(live.stderr).toBe('');
  expect(json(live)).toMatchObject({ outcome: 'applied', mode: 'live', source_rows: seeded.length });
  const again = cli(['seed', src, '--db', b]);
  expect(again.code).toBe(3);
  expect(again.stdout).toMatch(/^nothing to do: .* was already applied to the running sensor/);
  // Several flushes later the file still holds the seeded counts (the daemon never wrote stale ones over them).
  await new Promise((r) => setTimeout(r, 400));
  const midway = new Map(exportRows(b).map((r) => [`${r[0]} ${r[1]}`, r[2]]));
  for (const r of seeded) expect(midway.get(`${r[0]} ${r[1]}`)).toBeGreaterThanOrEqual(r[2]);
  d.write(secondHalf);
  expect(await d.end()).toBe(0);

  const rowsA = exportRows(a);
  expect(exportRows(b)).toEqual(rowsA);
  // And both are exactly twice the capture's own counts (seeded once, observed once).
  expect(rowsA).toEqual(seeded.map((r) => [r[0], r[1], 2 * r[2], 2 * r[3], r[4]]));
  expect(d.stderr).toMatch(/merged \d+ profile rows from .*src\.db/);
});

test('status shows the MQTT link: off, waiting for a broker that is down (saying why), online with the protocol', async () => {
  const off = path.join(dir, 'off.db');
  const d0 = start(off, ['-q']);
  await d0.ready();
  expect(cli(['status', '--db', off]).stdout).toMatch(/^mqtt +off \(no mqtt\.url in the config\)$/m);
  expect(json(cli(['status', '--db', off, '--json'])).daemon).toMatchObject({ mqtt: null });
  expect(await d0.end()).toBe(0);

  const downUrl = `mqtt://127.0.0.1:${await freePort()}`;
  const down = path.join(dir, 'down.db');
  const d1 = start(down, ['-q', '--mqtt-url', downUrl]);
  await d1.ready();
  const deadline = Date.now() + 10_000;
  let text = '';
  while (!/^mqtt +waiting/m.test(text) && Date.now() < deadline) text = cli(['status', '--db', down]).stdout;
  expect(text).toMatch(new RegExp(`^mqtt +waiting, ${downUrl.replace(/\./g, '\\.')} \\(MQTT 5\\): 0 alerts published since start, 0 waiting in the outbox; .*(refused|could not connect)`, 'm'));
  expect(await d1.end()).toBe(0);

  const broker = await startBroker();
  try {
    const up = path.join(dir, 'up.db');
    const d2 = start(up, ['-q', '--mqtt-url', broker.url]);
    await d2.ready();
    let st: Record<string, unknown> = {};
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      st = (json(cli(['status', '--db', up, '--json'])).daemon as { mqtt: Record<string, unknown> }).mqtt;
      if (st.state === 'online') break;
    }
    expect(st).toMatchObject({ state: 'online', url: broker.url, protocol: broker.kind === 'mosquitto' ? '5' : '3.1.1', last_error: null, outbox_pending: 0 });
    expect(await d2.end()).toBe(0);
  } finally {
    await broker.close();
  }
});

test('status reads live counters; a stale socket from a crashed daemon means "not running"', async () => {
  const db = path.join(dir, 's.db');
  const d = start(db, ['-q']);
  d.write(pcap);
  const live = await d.ready(records.length);
  expect(live).toMatchObject({ running: true, socket: `${db}.sock`, packets: records.length, source: 'standard input' });
  expect(typeof live.sensor_id).toBe('string');
  const text = cli(['status', '--db', db]);
  expect(text.code).toBe(0);
  expect(text.stdout).toMatch(/^daemon +running \(pid \d+, up .*\) — .*s\.db\.sock$/m);
  expect(text.stdout).toMatch(/^capture +standard input: \d+ packets/m);
  expect(text.stdout).toMatch(/^flash today /m);
  expect(text.stdout).toMatch(/^database +.*s\.db: .* schema 1/m);
  expect((fs.statSync(`${db}.sock`).mode & 0o777).toString(8)).toBe('660');
  expect(await d.end()).toBe(0);
  expect(fs.existsSync(`${db}.sock`)).toBe(false);
  expect(cli(['status', '--db', db]).stdout).toMatch(/^daemon +not running$/m);

  // A daemon killed with SIGKILL leaves its socket behind: nobody answers, so commands use the file.
  const d2 = start(db, ['-q']);
  await d2.ready();
  d2.proc.kill('SIGKILL');
  await new Promise((r) => d2.proc.on('close', r));
  expect(fs.existsSync(`${db}.sock`)).toBe(true);
  const src = demoDb(path.join(dir, 'src.db'));
  expect(json(cli(['seed', src, '--db', db, '--json']))).toMatchObject({ outcome: 'applied', mode: 'file' });
  // And the next daemon replaces the stale socket.
  const d3 = start(db, ['-q']);
  await d3.ready();
  expect(json(cli(['seed', src, '--db', db, '--json', '--force']))).toMatchObject({ outcome: 'applied', mode: 'live' });
  expect(await d3.end()).toBe(0);
});

test('alerts --follow streams alerts as the daemon raises them', async () => {
  const db = path.join(dir, 'f.db');
  const d = start(db, ['-q']);
  await d.ready();
  const follower = spawn(process.execPath, [CLI, 'alerts', '--follow', '--json', '--db', db]);
  let out = '';
  follower.stdout.on('data', (x) => { out += x; });
  let err = '';
  follower.stderr.on('data', (x) => { err += x; });
  await new Promise((r) => setTimeout(r, 1500));
  d.write(pcap);
  const until = Date.now() + 15_000;
  while (!out.includes('\n') && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  const alert = JSON.parse(out.trim().split('\n')[0]!) as { event_type: string; alert: { kind: string; anchor: string } };
  expect(alert).toMatchObject({ event_type: 'alert', alert: { kind: 'new_companion' } });
  const exited = new Promise<number>((r) => follower.on('close', (c) => r(c ?? -1)));
  expect(await d.end()).toBe(0);
  // The daemon going away ends the follow visibly: a line saying so, exit 69 (sensord not running).
  expect(await exited).toBe(69);
  expect(err).toBe('sensorctl: sensord closed the connection (stopped or restarting); no more alerts to follow\n');
  expect(JSON.parse(out.trim().split('\n').pop()!)).toMatchObject({ outcome: 'error', exit_code: 69 });
  // The same alert is stored, and listed without --follow.
  const listed = cli(['alerts', '--db', db, '--json', '--kind', 'new_companion']);
  expect(listed.code).toBe(0);
  expect(JSON.parse(listed.stdout.trim().split('\n')[0]!)).toEqual(JSON.parse(out.trim().split('\n')[0]!));
});

test('a database path too long for a socket beside it: the daemon listens on a short one both sides derive', async () => {
  const deep = path.join(dir, 'a-rather-long-directory-name-for-a-sensor-database', 'and-another-level-of-it-to-pass-108-bytes');
  fs.mkdirSync(deep, { recursive: true });
  const db = path.join(deep, 'sensor.db');
  expect(Buffer.byteLength(`${db}.sock`)).toBeGreaterThan(107);
  const d = start(db, ['-q']);
  const live = await d.ready();
  expect(String(live.socket ?? '')).not.toContain(deep);
  expect(d.stderr).not.toMatch(/too long for a unix socket/);
  d.write(pcap);
  await d.ready(records.length);
  // The backup asks the daemon to flush first, so it holds what the daemon has in memory.
  const backup = cli(['backup', path.join(dir, 'b.db'), '--db', db, '--json']);
  expect(json(backup)).toMatchObject({ outcome: 'done', daemon_flushed: true });
  expect(Number(json(backup).profile_rows)).toBeGreaterThan(0);
  expect(await d.end()).toBe(0);
});

test('a control socket shared by two configs: sensorctl refuses the daemon of the other database, and a second sensord is refused at start', async () => {
  const cfg = path.join(dir, 'shared.yaml');
  fs.writeFileSync(cfg, `control_socket: ${path.join(dir, 'shared.sock')}\n`);
  const a = path.join(dir, 'a.db');
  const d = start(a, ['-q', '--config', cfg]);
  await waitForFile(path.join(dir, 'shared.sock'));
  const b = demoDb(path.join(dir, 'b.db'));
  const exported = cli(['export-profiles', '--db', b]).stdout;
  const r = cli(['import-profiles', '-', '--db', b, '--config', cfg], { input: exported });
  expect(r.code).toBe(78);
  expect(r.stderr).toMatch(/the sensord on control socket .*shared\.sock serves .*a\.db, not .*b\.db \(do two sensors share control_socket/);
  const status = cli(['status', '--db', b, '--config', cfg]);
  expect(status.stdout).toMatch(/^daemon\s+unreachable: the sensord on control socket .* serves .*a\.db/m);
  // A second sensord with that config would run deaf, its sensorctl commands reaching the first:
  // refused at start, before it opens (or creates) its database.
  const c = path.join(dir, 'c.db');
  const second = spawnSync(process.execPath, [SENSORD, '--read', DEMO_PCAP, '--db', c, '--config', cfg, '-q'], { encoding: 'utf8', timeout: 60_000 });
  expect(second.status).toBe(78);
  expect(second.stderr).toMatch(/^sensord: control socket .*shared\.sock belongs to another running sensord, the one of .*a\.db; give each sensor its own control_socket in its config\n$/);
  expect(fs.existsSync(c)).toBe(false);
  expect(json(cli(['status', '--db', a, '--config', cfg, '--json'])).daemon).toMatchObject({ running: true });
  expect(await d.end()).toBe(0);
  expect(exportRows(a)).toEqual([]);
});

test('a live merge past the caps says how many rows the caps dropped', async () => {
  const cfg = path.join(dir, 'caps.yaml');
  fs.writeFileSync(cfg, 'caps:\n  max_anchors: 2\n');
  const db = path.join(dir, 'caps.db');
  const d = start(db, ['-q', '--config', cfg]);
  await d.ready();
  const rows = ['a', 'b', 'c'].map((x) => JSON.stringify({ anchor_key: `ja4>ja4t:${x}`, companion_key: 'c', count: 1, total_seen: 1, last_updated: Date.now() - 1000 })).join('\n');
  const r = cli(['import-profiles', '-', '--db', db, '--config', cfg], { input: `${rows}\n` });
  expect(r.code).toBe(0);
  expect(r.stderr).toMatch(/^sensorctl: warning: the running sensor's caps .* could not hold every row: 1 least recently updated rows were dropped/);
  expect(await d.end()).toBe(0);
  expect(d.stderr).toMatch(/the merge took the profiles past their caps: 1 least recently updated rows were dropped/);
});

async function waitForFile(file: string): Promise<void> {
  const until = Date.now() + 20_000;
  while (!fs.existsSync(file)) {
    if (Date.now() > until) throw new Error(`${file} did not appear`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('alerts --follow without a daemon exits 69 with a clear line', () => {
  const db = demoDb(path.join(dir, 'x.db'));
  const r = cli(['alerts', '--follow', '--db', db]);
  expect(r.code).toBe(69);
  expect(r.stderr).toMatch(/^sensorctl: --follow needs a running sensord/);
});

test('backup while the daemon runs is consistent and verified; it seeds another sensor', async () => {
  const db = path.join(dir, 'live.db');
  const d = start(db, ['-q', '--flush-interval', '30']);
  d.write(pcap);
  await d.ready(records.length);
  const dest = path.join(dir, 'usb', 'backup.db');
  fs.mkdirSync(path.dirname(dest));
  const r = cli(['backup', dest, '--db', db, '--json']);
  expect(r.stderr).toBe('');
  expect(json(r)).toMatchObject({ outcome: 'done', check: 'ok', schema_version: 1, daemon_flushed: true });
  expect(fs.readdirSync(path.dirname(dest))).toEqual(['backup.db']);
  // The daemon had not flushed on its own yet (30 s); the backup holds its in-memory rows anyway.
  const other = path.join(dir, 'other.db');
  expect(cli(['seed', dest, '--db', other]).code).toBe(0);
  expect(exportRows(other)).toEqual(exportRows(db));
  expect(cli(['backup', dest, '--db', db]).code).toBe(64);
  expect(cli(['backup', db, '--db', db]).stderr).toMatch(/is the sensor database itself/);
  expect(await d.end()).toBe(0);
});

test('import-profiles from stdin into a running daemon, then again (no-op)', async () => {
  const src = demoDb(path.join(dir, 'src.db'));
  const exported = cli(['export-profiles', '--db', src]).stdout;
  const db = path.join(dir, 'live.db');
  const d = start(db, ['-q']);
  await d.ready();
  const r = cli(['import-profiles', '-', '--db', db, '--json', '--source-id', 'other-sensor'], { input: exported });
  expect(r.stderr).toBe('');
  expect(json(r)).toMatchObject({ outcome: 'applied', mode: 'live', kind: 'import', source_sensor_id: 'other-sensor' });
  expect(cli(['import-profiles', '-', '--db', db, '--source-id', 'other-sensor'], { input: exported }).code).toBe(3);
  expect(await d.end()).toBe(0);
  expect(exportRows(db)).toEqual(exportRows(src));
  const concurrent = await Promise.all([cliAsync(['status', '--db', db, '--json'])]);
  expect(concurrent[0]!.code).toBe(0);
});
