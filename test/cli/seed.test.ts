/**
 * `sensorctl seed` against real database files (no daemon): round trip, idempotence, --force,
 * sources adding up, --dry-run, --json, and every way a source is refused with the destination
 * left byte-for-byte untouched.
 */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSensorDb } from '../../src/storage/db.js';
import { DEMO_PCAP, ROOT, SENSORD, T0, cli, cliAsync, exportRows, fileDigest, json, makeSensorDb, pcapRecords, tempDir, type Row } from './helpers.js';

const A = 'ja4>ja4t:t13d1516h2_8daaf6152771_02713d6af862';
const B = 'client_ip>ja4:10.0.0.7';
/** In export order (anchor, companion). */
const SOURCE_ROWS: Row[] = [
  [B, 't13d1516h2_8daaf6152771_02713d6af862', 5, 5, T0 + 3000],
  [A, '64240_2-4-8-1-3_1460_7', 90, 100, T0 + 1000],
  [A, '65535_2-1-3-1-1-4_1460_8', 10, 100, T0 + 2000],
];

let dir: string;
beforeEach(() => { dir = tempDir(); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

describe('seed round trip and ledger', () => {
  test('seeds a fresh database, then the same source again is a no-op that says so', () => {
    const src = makeSensorDb(path.join(dir, 'src.db'), SOURCE_ROWS, 'sensor-a');
    const dest = path.join(dir, 'dest.db');
    const r1 = cli(['seed', src, '--db', dest]);
    expect(r1.stderr).toBe('');
    expect(r1.code).toBe(0);
    expect(r1.stdout).toMatch(/^seeded .*src\.db \(sensor sensor-a\) into .*dest\.db: 3 rows \(3 new, 0 added to\) over 2 anchors \(2 new\); counts \+105, totals \+105/);
    expect(exportRows(dest)).toEqual(SOURCE_ROWS);

    const r2 = cli(['seed', src, '--db', dest]);
    expect(r2.code).toBe(3);
    expect(r2.stdout).toMatch(/^nothing to do: .* was already applied .*--force applies it again/);
    expect(exportRows(dest)).toEqual(SOURCE_ROWS);
    // Recognised by its bytes, the source is not read again: its anchor count is unknown, not 0.
    expect(json(cli(['seed', src, '--db', dest, '--json']))).toMatchObject({ outcome: 'already', source_rows: 3, source_anchors: null });

    // Another file with the same profiles (a copy) is recognised by content.
    const copy = path.join(dir, 'copy.db');
    const db = new Database(src, { readonly: true });
    db.exec(`VACUUM INTO '${copy}'`);
    db.close();
    expect(fileDigest(copy)).not.toBe(fileDigest(src));
    const r3 = cli(['seed', copy, '--db', dest, '--json']);
    expect(r3.code).toBe(3);
    expect(json(r3).outcome).toBe('already');
    expect(exportRows(dest)).toEqual(SOURCE_ROWS);
  });

  test('--force re-applies; a different source adds up, totals once per anchor', () => {
    const src = makeSensorDb(path.join(dir, 'src.db'), SOURCE_ROWS, 'sensor-a');
    const other = makeSensorDb(path.join(dir, 'other.db'), [
      [A, '64240_2-4-8-1-3_1460_7', 20, 30, T0 + 5000],
      [A, 'new-companion', 10, 30, T0 + 500],
    ], 'sensor-b');
    const dest = path.join(dir, 'dest.db');
    expect(cli(['seed', src, '--db', dest]).code).toBe(0);
    const r = cli(['seed', other, '--db', dest, '--json']);
    expect(r.code).toBe(0);
    const res = json(r);
    expect(res).toMatchObject({ outcome: 'applied', mode: 'file', source_sensor_id: 'sensor-b', source_rows: 2 });
    expect(res.stats).toEqual({ rows: 2, rows_new: 1, rows_added: 1, anchors: 1, anchors_new: 0, count_added: 30, total_added: 30, skipped_zero: 0 });
    expect(exportRows(dest)).toEqual([
      [B, 't13d1516h2_8daaf6152771_02713d6af862', 5, 5, T0 + 3000],
      [A, '64240_2-4-8-1-3_1460_7', 110, 130, T0 + 5000],
      [A, '65535_2-1-3-1-1-4_1460_8', 10, 130, T0 + 2000],
      [A, 'new-companion', 10, 130, T0 + 500],
    ]);
    const forced = cli(['seed', src, '--db', dest, '--force']);
    expect(forced.code).toBe(0);
    expect(exportRows(dest)[1]).toEqual([A, '64240_2-4-8-1-3_1460_7', 200, 230, T0 + 5000]);
    const status = JSON.parse(cli(['status', '--db', dest, '--json']).stdout) as { database: { seeds_applied: number } };
    expect(status.database.seeds_applied).toBe(2);
  });

  test('--dry-run reports rows new and added to, and writes nothing', () => {
    const src = makeSensorDb(path.join(dir, 'src.db'), SOURCE_ROWS);
    const dest = path.join(dir, 'dest.db');
    const none = cli(['seed', src, '--db', dest, '--dry-run', '--json']);
    expect(none.code).toBe(0);
    expect(json(none)).toMatchObject({ outcome: 'dry-run', stats: { rows: 3, rows_new: 3, rows_added: 0, anchors_new: 2 } });
    expect(fs.existsSync(dest)).toBe(false);
    makeSensorDb(dest, [[A, '64240_2-4-8-1-3_1460_7', 1, 1, T0]], 'dest');
    const before = fileDigest(dest);
    const r = cli(['seed', src, '--db', dest, '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^dry run: seeding .* would merge 3 rows \(2 new, 1 added to\) over 2 anchors \(1 new\).*nothing written/);
    expect(fileDigest(dest)).toBe(before);
  });

  test('a destination with an unfolded journal is merged correctly (journal folded first)', () => {
    const dest = path.join(dir, 'dest.db');
    const store = openSensorDb(dest, { sensorId: 'dest' });
    const put = (op: number, r: Row) => store.db.prepare('INSERT INTO profile_journal (op, anchor_key, companion_key, count, total_seen, last_updated) VALUES (?, ?, ?, ?, ?, ?)').run(op, ...r);
    store.db.prepare('INSERT INTO behavior_profiles VALUES (?, ?, ?, ?, ?)').run(A, '64240_2-4-8-1-3_1460_7', 1, 1, T0);
    put(0, [A, '64240_2-4-8-1-3_1460_7', 7, 9, T0 + 10]);
    put(0, [A, 'journal-only', 2, 9, T0 + 10]);
    store.close();
    const src = makeSensorDb(path.join(dir, 'src.db'), SOURCE_ROWS);
    expect(cli(['seed', src, '--db', dest, '--dry-run', '--json']).stdout).toMatch(/"rows_added":1/);
    expect(cli(['seed', src, '--db', dest]).code).toBe(0);
    expect(exportRows(dest).filter((r) => r[0] === A)).toEqual([
      [A, '64240_2-4-8-1-3_1460_7', 97, 109, T0 + 1000],
      [A, '65535_2-1-3-1-1-4_1460_8', 10, 109, T0 + 2000],
      [A, 'journal-only', 2, 109, T0 + 10],
    ]);
  });

  test('a source with journal rows is read as the sensor would load it', () => {
    const file = path.join(dir, 'src.db');
    makeSensorDb(file, SOURCE_ROWS);
    const db = new Database(file);
    db.prepare('INSERT INTO profile_journal (op, anchor_key, companion_key, count, total_seen, last_updated) VALUES (?, ?, ?, ?, ?, ?)').run(0, A, '65535_2-1-3-1-1-4_1460_8', 15, 105, T0 + 9000);
    db.prepare('INSERT INTO profile_journal (op, anchor_key, companion_key, count, total_seen, last_updated) VALUES (?, ?, ?, ?, ?, ?)').run(2, B, '', 0, 0, 0);
    db.close();
    const dest = path.join(dir, 'dest.db');
    expect(cli(['seed', file, '--db', dest]).code).toBe(0);
    expect(exportRows(dest)).toEqual([
      [A, '64240_2-4-8-1-3_1460_7', 90, 105, T0 + 1000],
      [A, '65535_2-1-3-1-1-4_1460_8', 15, 105, T0 + 9000],
    ]);
  });
});

describe('a database the sensor wrote is always a valid seed source', () => {
  /** The demo capture with its records re-stamped from `startSec` on, one second apart. */
  function restamped(file: string, startSec: number): string {
    const { header, records } = pcapRecords(fs.readFileSync(DEMO_PCAP));
    const out = records.map((r, i) => {
      const copy = Buffer.from(r);
      copy.writeUInt32LE(startSec + i, 0);
      return copy;
    });
    fs.writeFileSync(file, Buffer.concat([header, ...out]));
    return file;
  }

  test.each([
    ['a clockless device (1970)', 0],
    ['a generator (2105)', 4_260_000_000],
  ])('replaying a capture stamped by %s', (_label, startSec) => {
    const pcap = restamped(path.join(dir, 'restamped.pcap'), startSec);
    const db = path.join(dir, 'sensor.db');
    const run = execFileSync(process.execPath, [SENSORD, '--read', pcap, '--db', db], {
      env: { ...process.env, SENSOR_DB: '', SENSOR_CONFIG: '', RUNTIME_DIRECTORY: '' }, encoding: 'utf8',
    });
    expect(run).toContain('"event_type":"alert"');
    const rows = exportRows(db);
    expect(rows.length).toBeGreaterThan(3);
    const before = Date.now();
    for (const r of rows) {
      expect(r[4]).toBeGreaterThanOrEqual(Date.UTC(2000, 0, 1));
      expect(r[4]).toBeLessThanOrEqual(before + 86_400_000);
    }
    const dest = path.join(dir, 'dest.db');
    const seeded = cli(['seed', db, '--db', dest]);
    expect(seeded.stderr).toBe('');
    expect(seeded.code).toBe(0);
    expect(exportRows(dest).map((r) => r.slice(0, 4))).toEqual(rows.map((r) => r.slice(0, 4)));
  });
});

describe('seed error paths: clear message, distinct exit code, destination untouched', () => {
  let dest: string;
  let before: string;
  beforeEach(() => {
    dest = makeSensorDb(path.join(dir, 'dest.db'), [[A, 'x', 1, 1, T0]], 'dest');
    before = fileDigest(dest);
  });
  afterEach(() => { expect(fileDigest(dest)).toBe(before); });

  const refuse = (source: string, code: number, message: RegExp, extra: string[] = []) => {
    const r = cli(['seed', source, '--db', dest, ...extra]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code, stderr: expect.stringMatching(message) });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    return r;
  };

  test('missing source', () => { refuse(path.join(dir, 'nope.db'), 66, /^sensorctl: source .*nope\.db does not exist$/m); });
  test('source is the destination (same path)', () => { refuse(dest, 65, /is the destination database .* itself/); });
  test('source is the destination through a symlink', () => {
    fs.symlinkSync('dest.db', path.join(dir, 'link.db'));
    refuse(path.join(dir, 'link.db'), 65, /is the destination database .* itself/);
  });
  test('source is the destination through another path and a hard link', () => {
    fs.mkdirSync(path.join(dir, 'sub'));
    refuse(path.join(dir, 'sub', '..', 'dest.db'), 65, /is the destination database .* itself/);
    fs.linkSync(dest, path.join(dir, 'hard.db'));
    refuse(path.join(dir, 'hard.db'), 65, /is the destination database .* itself/);
  });
  test('not a SQLite file', () => {
    fs.writeFileSync(path.join(dir, 'text.db'), 'hello, this is not a database\n');
    refuse(path.join(dir, 'text.db'), 65, /is not a SQLite database/);
  });
  test('a SQLite database that is not a sensor database', () => {
    const db = new Database(path.join(dir, 'foreign.db'));
    db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    db.close();
    refuse(path.join(dir, 'foreign.db'), 65, /not a sensor database \(no schema_version table\)/);
  });
  test('a FIFO is refused without hanging', () => {
    execFileSync('mkfifo', [path.join(dir, 'fifo.db')]);
    refuse(path.join(dir, 'fifo.db'), 65, /is a FIFO, not a regular file/);
  });
  test('a directory and a device', () => {
    fs.mkdirSync(path.join(dir, 'adir.db'));
    refuse(path.join(dir, 'adir.db'), 65, /is a directory, not a regular file/);
    refuse('/dev/zero', 65, /is a device, not a regular file/);
  });
  test('a symlink leaving its directory', () => {
    const outside = makeSensorDb(path.join(dir, 'outside.db'), SOURCE_ROWS);
    fs.mkdirSync(path.join(dir, 'stick'));
    fs.symlinkSync(outside, path.join(dir, 'stick', 'backup.db'));
    refuse(path.join(dir, 'stick', 'backup.db'), 65, /is a symlink to .*outside\.db, outside its directory/);
  });
  test('larger than the size limit', () => {
    const src = makeSensorDb(path.join(dir, 'src.db'), SOURCE_ROWS);
    refuse(src, 65, /bytes, more than the limit of 1024 \(raise it with --max-size/, ['--max-size', String(1024 / 1024 / 1024)]);
  });
  test('a schema from a newer version', () => {
    const src = makeSensorDb(path.join(dir, 'src.db'), SOURCE_ROWS);
    const db = new Database(src);
    db.prepare("INSERT INTO schema_version VALUES (99, 'future', 0)").run();
    db.close();
    refuse(src, 65, /schema version 99, newer than this build supports/);
  });
  test('a damaged file fails quick_check', () => {
    const src = makeSensorDb(path.join(dir, 'src.db'), Array.from({ length: 2000 }, (_, i): Row => [A, `c${String(i).padStart(5, '0')}`, 1, 2000, T0]));
    const fd = fs.openSync(src, 'r+');
    const pageSize = 4096;
    const size = fs.fstatSync(fd).size;
    fs.writeSync(fd, Buffer.alloc(pageSize, 0xab), 0, pageSize, size - 3 * pageSize);
    fs.closeSync(fd);
    refuse(src, 65, /damaged|malformed|cannot be read/);
  });
  test('negative counts', () => {
    const src = makeSensorDb(path.join(dir, 'src.db'), [...SOURCE_ROWS, [B, 'neg', -5, 5, T0]]);
    refuse(src, 65, /rejected: behavior_profiles \(anchor "client_ip>ja4:10.0.0.7"\): negative count -5/);
  });
  test('a source refused halfway leaves no new database behind when --db did not exist', () => {
    const src = makeSensorDb(path.join(dir, 'src.db'), [...SOURCE_ROWS, [B, 'neg', -5, 5, T0]]);
    const fresh = path.join(dir, 'fresh.db');
    const r = cli(['seed', src, '--db', fresh]);
    expect(r.code).toBe(65);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('fresh'))).toEqual([]);
  });
  test('count larger than total_seen', () => {
    const src = makeSensorDb(path.join(dir, 'src.db'), [[A, 'c', 11, 10, T0]]);
    refuse(src, 65, /count 11 is larger than total_seen 10/);
  });
  test('counts that are text, out of range, or timestamps in the future', () => {
    const src = makeSensorDb(path.join(dir, 'src.db'), [[A, 'c', 1, 10, T0]]);
    const db = new Database(src);
    db.prepare("UPDATE behavior_profiles SET count = 'many'").run();
    db.close();
    refuse(src, 65, /count is of type text, not an integer/);
    const big = makeSensorDb(path.join(dir, 'big.db'), [[A, 'c', 2 ** 50, 2 ** 50, T0]]);
    refuse(big, 65, /count \d+ is out of range/);
    const future = makeSensorDb(path.join(dir, 'future.db'), [[A, 'c', 1, 1, Date.now() + 30 * 86_400_000]]);
    refuse(future, 65, /last_updated .* is in the future/);
    const seconds = makeSensorDb(path.join(dir, 'seconds.db'), [[A, 'c', 1, 1, Math.floor(T0 / 1000)]]);
    refuse(seconds, 65, /before 2000-01-01 \(not ms since the epoch\?\)/);
  });
  test('keys with control characters, unknown pair fields, or an anchor key of the wrong form', () => {
    refuse(makeSensorDb(path.join(dir, 'ctl.db'), [[A, 'bad\u0001key', 1, 1, T0]]), 65, /companion_key "bad\\u0001key" has characters outside printable ASCII/);
    refuse(makeSensorDb(path.join(dir, 'field.db'), [['evil>ja4t:x', 'c', 1, 1, T0]]), 65, /anchor key "evil>ja4t:x" is not of the form/);
    refuse(makeSensorDb(path.join(dir, 'form.db'), [['no-pair-here', 'c', 1, 1, T0]]), 65, /is not of the form/);
  });
  test('a huge blob as a key is rejected from its length alone', () => {
    const src = makeSensorDb(path.join(dir, 'src.db'), SOURCE_ROWS);
    const db = new Database(src);
    db.prepare('INSERT INTO behavior_profiles VALUES (?, ?, 1, 1, ?)').run(A, Buffer.alloc(64 * 1024 * 1024, 0x41), T0);
    db.close();
    const t0 = Date.now();
    refuse(src, 65, /companion_key is a blob, not text/);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });
  test('behavior_profiles replaced by a view that would never finish', () => {
    const src = makeSensorDb(path.join(dir, 'src.db'), SOURCE_ROWS);
    const db = new Database(src);
    db.exec(`DROP TABLE behavior_profiles;
      CREATE VIEW behavior_profiles AS WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n)
      SELECT 'a>b:c' AS anchor_key, 'x' AS companion_key, i AS count, i AS total_seen, i AS last_updated FROM n`);
    db.close();
    refuse(src, 65, /behavior_profiles is a view, not a plain table; refusing a database built to run code when read/);
  });
  test('a generated column', () => {
    const src = path.join(dir, 'gen.db');
    makeSensorDb(src, []);
    const db = new Database(src);
    db.exec(`DROP TABLE behavior_profiles; CREATE TABLE behavior_profiles (anchor_key TEXT NOT NULL, companion_key TEXT NOT NULL,
      count INTEGER NOT NULL, total_seen INTEGER NOT NULL, last_updated INTEGER NOT NULL, evil AS (upper(anchor_key)),
      PRIMARY KEY (anchor_key, companion_key)) WITHOUT ROWID`);
    db.close();
    refuse(src, 65, /does not have the sensor's columns .* evil \(generated\)/);
  });
});

test('triggers and a rewritten view in the source never run: only the tables are read, by our SQL', () => {
  const src = makeSensorDb(path.join(dir, 'src.db'), SOURCE_ROWS);
  const db = new Database(src);
  db.exec(`CREATE TABLE IF NOT EXISTS pwned (x);
    CREATE TRIGGER t1 AFTER UPDATE ON behavior_profiles BEGIN INSERT INTO pwned VALUES (1); END;
    DROP VIEW behavior_profiles_current;
    CREATE VIEW behavior_profiles_current AS SELECT 'ja4>ja4t:evil' AS anchor_key, 'x' AS companion_key, 999999 AS count, 999999 AS total_seen, 1 AS last_updated`);
  db.close();
  const before = fileDigest(src);
  const dest = path.join(dir, 'dest.db');
  const r = cli(['seed', src, '--db', dest]);
  expect(r.code).toBe(0);
  expect(exportRows(dest)).toEqual(SOURCE_ROWS);
  expect(fileDigest(src)).toBe(before);
});

test('a source on a read-only directory is read without writing beside it', () => {
  const stick = path.join(dir, 'stick');
  fs.mkdirSync(stick);
  const src = makeSensorDb(path.join(stick, 'backup.db'), SOURCE_ROWS);
  const db = new Database(src);
  db.pragma('journal_mode = WAL');
  db.close();
  fs.chmodSync(stick, 0o555);
  try {
    const r = cli(['seed', src, '--db', path.join(dir, 'dest.db')]);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(stick)).toEqual(['backup.db']);
  } finally {
    fs.chmodSync(stick, 0o755);
  }
});

test('seeding while another process holds the write lock: --wait gives up with exit 75, or waits it out', async () => {
  const dest = makeSensorDb(path.join(dir, 'dest.db'), [[A, 'x', 1, 1, T0]], 'dest');
  const src = makeSensorDb(path.join(dir, 'src.db'), SOURCE_ROWS);
  const before = fileDigest(dest);
  // A writer in the middle of a long write transaction (as a flush would be), for 3 s.
  const holder = spawn(process.execPath, ['-e', `
    const D = require(${JSON.stringify(path.join(ROOT, 'node_modules/better-sqlite3'))});
    const db = new D(${JSON.stringify(dest)});
    db.exec('BEGIN IMMEDIATE');
    db.prepare("INSERT INTO alerts (created_at, severity, kind, anchor, companion, payload) VALUES (1, 'low', 'k', 'a', 'c', '{}')").run();
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('COMMIT'); db.close(); }, 3000);`]);
  await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
  const busy = cli(['seed', src, '--db', dest, '--wait', '0.2']);
  expect(busy.code).toBe(75);
  expect(busy.stderr).toMatch(/is busy .*nothing was changed; try again, or raise --wait/);
  expect(fileDigest(dest)).toBe(before);
  const waited = cli(['seed', src, '--db', dest, '--wait', '20']);
  expect(waited.stderr).toBe('');
  expect(waited.code).toBe(0);
  await new Promise((r) => holder.on('close', r));
  expect(exportRows(dest)[1]).toEqual([A, '64240_2-4-8-1-3_1460_7', 90, 101, T0 + 1000]);
  expect(exportRows(dest)[3]).toEqual([A, 'x', 1, 101, T0]);
});

test('a sensord that holds the database but cannot be reached on its socket: seed refuses (exit 75), nothing changed', () => {
  const dest = makeSensorDb(path.join(dir, 'dest.db'), [[A, 'x', 1, 1, T0]], 'dest');
  const src = makeSensorDb(path.join(dir, 'src.db'), SOURCE_ROWS);
  const before = fileDigest(dest);
  fs.writeFileSync(`${dest}.lock`, `${process.pid}\n`); // a live process (this test) holds the writer lock
  const r = cli(['seed', src, '--db', dest, '--wait', '0.5']);
  expect(r.code).toBe(75);
  expect(r.stderr).toMatch(/dest\.db is in use by another writer, pid \d+ \(node\), waited 0\.5 s; stop it before sensorctl writes to it/);
  expect(fileDigest(dest)).toBe(before);
  fs.rmSync(`${dest}.lock`);
  expect(cli(['seed', src, '--db', dest]).code).toBe(0);
});

test('a sensor that goes away in the middle of a seed: exit 75, run it again', async () => {
  const dest = makeSensorDb(path.join(dir, 'dest.db'), [[A, 'x', 1, 1, T0]], 'dest');
  const src = makeSensorDb(path.join(dir, 'src.db'), SOURCE_ROWS);
  // Stands in for a sensord killed mid-seed: answers status for this database, then drops the
  // connection at the first seed request.
  const server = net.createServer((conn) => {
    let buf = '';
    conn.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const req = JSON.parse(buf.slice(0, nl)) as { id: number; op: string };
        buf = buf.slice(nl + 1);
        if (req.op === 'status') conn.write(`${JSON.stringify({ id: req.id, ok: true, result: { running: true, db_path: dest, pid: process.pid } })}\n`);
        else conn.destroy();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(`${dest}.sock`, resolve));
  try {
    const r = await cliAsync(['seed', src, '--db', dest]);
    expect(r.code).toBe(75);
    expect(r.stderr).toMatch(/closed the control connection .* before it answered; it may have stopped\. Run the command again/);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  const again = cli(['seed', src, '--db', dest]);
  expect(again.code).toBe(0);
});

test('--wait also waits for another sensorctl holding the writer lock, which it names', async () => {
  const dest = makeSensorDb(path.join(dir, 'dest.db'), [[A, 'x', 1, 1, T0]], 'dest');
  const src = makeSensorDb(path.join(dir, 'src.db'), SOURCE_ROWS);
  // A process that looks like `sensorctl import` in the process table and lets go after 1.5 s.
  const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 1500)', '/usr/lib/ja4-sensor/dist/cli/sensorctl.js', 'import']);
  fs.writeFileSync(`${dest}.lock`, `${other.pid}\n`);
  const short = await cliAsync(['seed', src, '--db', dest, '--wait', '0.2']);
  expect(short.code).toBe(75);
  expect(short.stderr).toMatch(/in use by another writer, pid \d+ \(sensorctl import\), waited 0\.2 s; wait for it to finish \(or give --wait more seconds\)/);
  const started = Date.now();
  const long = await cliAsync(['seed', src, '--db', dest, '--wait', '20']);
  expect(long.stderr).toBe('');
  expect(long.code).toBe(0);
  expect(Date.now() - started).toBeGreaterThan(500);
  expect(exportRows(dest)).toHaveLength(4);
});
