/**
 * An operator who may read the database but not write beside it: on the image the state directory
 * is 0750 sensor:sensor and the file 0640, so a member of the sensor group reads it, and SQLite
 * cannot create the WAL index (-shm) once sensord has stopped. Runs the real CLI as another user,
 * so it needs root; elsewhere it is skipped with the reason.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CLI, DEMO_PCAP, SENSORD, T0, cli, exportRows, fileDigest, makeSensorDb, tempDir, type Row } from './helpers.js';

const OPERATOR = { uid: 65534, gid: 65534 }; // nobody:nogroup
const ROWS: Row[] = [
  ['ja4>ja4t:t13d1516h2_8daaf6152771_02713d6af862', '64240_2-4-8-1-3_1460_7', 98, 100, T0 + 1000],
  ['ja4>ja4t:t13d1516h2_8daaf6152771_02713d6af862', '65535_2-4-8-1-3_1460_7', 2, 100, T0 + 2000],
];

function whyNot(): string | null {
  if (process.getuid?.() !== 0) return 'not root: cannot run the CLI as another user';
  const probe = spawnSync(process.execPath, [CLI, '--version'], { ...OPERATOR, encoding: 'utf8' });
  if (probe.status !== 0) return `user nobody cannot run ${CLI} (checkout not world-readable): ${probe.stderr.trim().split('\n')[0]}`;
  return null;
}
const skip = whyNot();
if (skip) console.warn(`operator tests skipped: ${skip}`);
const maybe = skip ? test.skip : test;

let dir: string;
beforeEach(() => {
  dir = tempDir();
  fs.chmodSync(dir, 0o755);
});
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

/** As the image lays it out: directory 0750 root:nogroup, file 0640, sensord stopped (no -wal/-shm). */
function groupReadableDb(): string {
  const state = path.join(dir, 'state');
  fs.mkdirSync(state);
  const db = makeSensorDb(path.join(state, 'sensor.db'), ROWS);
  expect(fs.readdirSync(state)).toEqual(['sensor.db']);
  for (const [p, mode] of [[state, 0o750], [db, 0o640]] as const) {
    fs.chownSync(p, 0, OPERATOR.gid);
    fs.chmodSync(p, mode);
  }
  return db;
}

function privateCopies(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((n) => n.startsWith('sensor-db-'));
}

maybe('a reader who cannot write beside a stopped sensor\'s database reads it all the same, and leaves nothing behind', () => {
  const db = groupReadableDb();
  const digest = fileDigest(db);
  const copiesBefore = privateCopies();
  const status = cli(['status', '--db', db], OPERATOR);
  expect(status.stderr).toBe('');
  expect(status.code).toBe(0);
  expect(status.stdout).toMatch(/profiles\s+2 rows over 1 anchors/);
  const exported = cli(['export-profiles', '--db', db], OPERATOR);
  expect(exported.code).toBe(0);
  expect(exported.stdout.trim().split('\n').map((l) => JSON.parse(l).count)).toEqual([98, 2]);
  expect(cli(['profiles', '--db', db], OPERATOR).code).toBe(0);
  expect(cli(['alerts', '--db', db], OPERATOR).code).toBe(0);
  const denied = cli(['backup', path.join(dir, 'copy.db'), '--db', db], OPERATOR);
  expect(denied.code).toBe(77);
  expect(denied.stderr).toMatch(/cannot write backup .*copy\.db: no permission to create files in /);
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  fs.chownSync(home, OPERATOR.uid, OPERATOR.gid);
  const backup = path.join(home, 'copy.db');
  expect(cli(['backup', backup, '--db', db], OPERATOR).code).toBe(0);
  expect(fs.readdirSync(path.dirname(db))).toEqual(['sensor.db']);
  expect(privateCopies()).toEqual(copiesBefore);
  expect(fileDigest(db)).toBe(digest);
  expect(exportRows(backup)).toEqual(exportRows(db));
});

maybe('the private copy goes however the command ends: a reader that stops early (| head), SIGINT', async () => {
  const state = path.join(dir, 'state');
  fs.mkdirSync(state);
  const rows = Array.from({ length: 20_000 }, (_, i): Row => [`ja4>ja4t:a${i % 100}`, `companion-${i}`, 1, 200, T0]);
  const db = makeSensorDb(path.join(state, 'sensor.db'), rows);
  for (const [p, mode] of [[state, 0o750], [db, 0o640]] as const) {
    fs.chownSync(p, 0, OPERATOR.gid);
    fs.chmodSync(p, mode);
  }
  const before = privateCopies();
  const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const head = spawnSync('bash', ['-c', `${q(process.execPath)} ${q(CLI)} export-profiles --db ${q(db)} | head -c 100 >/dev/null; echo "\${PIPESTATUS[0]}"`],
    { ...OPERATOR, encoding: 'utf8', cwd: '/' });
  expect(head.stdout.trim()).toBe('0');
  expect(privateCopies()).toEqual(before);
  // Interrupted while it exports (Ctrl-C): the copy goes too, and the signal still ends the process.
  const child = spawn(process.execPath, [CLI, 'export-profiles', '--db', db, '--format', 'csv'], { ...OPERATOR, cwd: '/' });
  // Reading no further keeps it in the middle of the export (the pipe fills up).
  await new Promise<void>((resolve) => child.stdout.once('data', () => { child.stdout.pause(); resolve(); }));
  child.kill('SIGINT');
  const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
  expect(signal).toBe('SIGINT');
  expect(privateCopies()).toEqual(before);
});

maybe('no read permission is exit 77 with what to do; a writer without write permission is 77 and changes nothing', () => {
  const db = groupReadableDb();
  fs.chmodSync(db, 0o600);
  for (const args of [['export-profiles', '--db', db], ['profiles', '--db', db], ['alerts', '--db', db]]) {
    const r = cli(args, OPERATOR);
    expect({ args, code: r.code }).toEqual({ args, code: 77 });
    expect(r.stderr).toMatch(/cannot read database .*sensor\.db: permission denied \(run as its owner, e\.g\. sudo -u sensor/);
  }
  const status = cli(['status', '--db', db], OPERATOR);
  expect(status.code).toBe(77);
  fs.chmodSync(db, 0o640);
  const jsonl = path.join(dir, 'rows.jsonl');
  fs.writeFileSync(jsonl, cli(['export-profiles', '--db', db]).stdout);
  fs.chmodSync(jsonl, 0o644);
  const digest = fileDigest(db);
  const seed = cli(['import-profiles', jsonl, '--db', db], OPERATOR);
  expect(seed.code).toBe(77);
  expect(seed.stderr).toMatch(/permission denied/);
  expect(fileDigest(db)).toBe(digest);
});

maybe('a sensord that could not write the database is refused at start (exit 4), not at its first flush', () => {
  const shared = path.join(dir, 'shared');
  fs.mkdirSync(shared);
  fs.chmodSync(shared, 0o777);
  const db = makeSensorDb(path.join(shared, 'sensor.db'), ROWS); // root's, 0644
  const digest = fileDigest(db);
  const r = spawnSync(process.execPath, [SENSORD, '--read', DEMO_PCAP, '--db', db, '-q'], { ...OPERATOR, encoding: 'utf8', cwd: '/' });
  expect(r.status).toBe(4);
  expect(r.stderr).toMatch(/cannot write database .*sensor\.db: permission denied \(run as its owner/);
  expect(r.stderr).not.toMatch(/capture started/);
  expect(fileDigest(db)).toBe(digest);
});

maybe('a -wal the reader may not read is exit 77 naming that file, whether or not the directory is writable', () => {
  // A sensord that died leaves committed rows in sensor.db-wal; the file is 0640 but the -wal 0600.
  const src = makeSensorDb(path.join(dir, 'src.db'), ROWS);
  const writer = new Database(src);
  writer.pragma('wal_autocheckpoint = 0');
  writer.prepare('UPDATE behavior_profiles SET count = count + 1').run();
  const db = groupReadableDb();
  fs.copyFileSync(src, db);
  fs.copyFileSync(`${src}-wal`, `${db}-wal`);
  writer.close();
  fs.chmodSync(`${db}-wal`, 0o600);
  for (const dirMode of [0o750, 0o770]) {
    fs.chmodSync(path.dirname(db), dirMode);
    for (const args of [['export-profiles', '--db', db], ['status', '--db', db]]) {
      const r = cli(args, OPERATOR);
      expect({ args, dirMode, code: r.code }).toEqual({ args, dirMode, code: 77 });
      expect(r.stdout + r.stderr).toContain(`cannot read database ${db}-wal: permission denied (run as its owner`);
    }
  }
  fs.chmodSync(`${db}-wal`, 0o640);
  fs.chownSync(`${db}-wal`, 0, OPERATOR.gid);
  fs.chmodSync(path.dirname(db), 0o750);
  const r = cli(['export-profiles', '--db', db], OPERATOR);
  expect(r.code).toBe(0);
  expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l).count)).toEqual([99, 3]); // the -wal's update is read
});
