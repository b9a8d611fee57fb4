import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import Database from 'better-sqlite3';
import { BehaviorProfiler } from '../../src/anomaly/profiler.js';
import { openSensorDb, StorageError } from '../../src/storage/db.js';
import { LATEST_SCHEMA_VERSION } from '../../src/storage/migrations.js';
import { iterateProfiles, loadProfiles } from '../../src/storage/profiles.js';
import { Persister } from '../../src/storage/persister.js';
import { listSnapshots, quickCheckFile } from '../../src/storage/snapshots.js';
import { tempDir, collectingLogger } from './helpers.js';

let dir: string;
beforeEach(() => { dir = tempDir(); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const sha = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');

/** A database with `n` rows under one anchor per 10 rows, flushed and closed cleanly. */
function populated(dbPath: string, n: number, snapshot = false): Promise<void> | void {
  const store = openSensorDb(dbPath);
  const profiler = new BehaviorProfiler({ maxCompanionsPerAnchor: 1000 });
  loadProfiles(store.db, profiler);
  const persister = new Persister(store, profiler, { snapshotIntervalMs: 0 });
  for (let i = 0; i < n; i++) profiler.observe(`ja4>ja4t:anchor${Math.floor(i / 10)}`, `companion-${i}-${'x'.repeat(40)}`, 1000 + i);
  persister.stop();
  const done = () => store.close();
  if (!snapshot) return done();
  return persister.snapshotNow().then(done);
}

function rowCount(dbPath: string): number {
  const store = openSensorDb(dbPath);
  const n = [...iterateProfiles(store.db)].length;
  store.close();
  return n;
}

describe('schema', () => {
  test('a new database gets the latest schema, meta and the tables others use', () => {
    const store = openSensorDb(path.join(dir, 'a', 'sensor.db'), { sensorId: 'pi-7' });
    expect(store.schemaVersion).toBe(LATEST_SCHEMA_VERSION);
    expect(store.sensorId).toBe('pi-7');
    expect(store.createdAt).toBeGreaterThan(0);
    const tables = (store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((t) => t.name);
    expect(tables).toEqual(expect.arrayContaining(['behavior_profiles', 'alerts', 'meta', 'alert_outbox', 'seed_ledger', 'schema_version']));
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2); // FULL
    store.db.prepare('INSERT INTO alert_outbox (created_at, severity, payload) VALUES (1, ?, ?)').run('high', '{}');
    store.db.prepare('INSERT INTO seed_ledger (source_digest, source_sensor_id, applied_at, rows) VALUES (?, ?, 1, 2)').run('abc', 'pi-1');
    store.close();
    // Reopening keeps the id and does not migrate again.
    const again = openSensorDb(path.join(dir, 'a', 'sensor.db'), { sensorId: 'other' });
    expect(again.sensorId).toBe('pi-7');
    again.close();
  });

  test('a database from a newer version is refused with a clear message and never modified', () => {
    const dbPath = path.join(dir, 'sensor.db');
    populated(dbPath, 20);
    const raw = new Database(dbPath);
    raw.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(LATEST_SCHEMA_VERSION + 1, 'from the future', 0);
    raw.pragma('journal_mode = DELETE');
    raw.close();
    const before = sha(dbPath);
    const mtime = fs.statSync(dbPath).mtimeMs;
    let error: unknown;
    try { openSensorDb(dbPath); } catch (err) { error = err; }
    expect(error).toBeInstanceOf(StorageError);
    expect((error as StorageError).code).toBe('SCHEMA_TOO_NEW');
    expect((error as Error).message).toMatch(/schema version 2, newer than this build supports \(1\).*not modified/);
    expect(sha(dbPath)).toBe(before);
    expect(fs.statSync(dbPath).mtimeMs).toBe(mtime);
    expect(fs.readdirSync(dir).filter((f) => f.includes('corrupt'))).toEqual([]);
    // Read-only opening refuses it too.
    expect(() => openSensorDb(dbPath, { readonly: true })).toThrow(/newer than this build/);
  });

  test('a SQLite file of another application is refused, not taken over', () => {
    const dbPath = path.join(dir, 'other.db');
    const raw = new Database(dbPath);
    raw.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
    raw.close();
    const before = sha(dbPath);
    expect(() => openSensorDb(dbPath)).toThrow(/not a sensor database/);
    expect(sha(dbPath)).toBe(before);
  });

  test('read-only opening of a missing file fails clearly and creates nothing', () => {
    expect(() => openSensorDb(path.join(dir, 'nope.db'), { readonly: true })).toThrow(/does not exist/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('start-up recovery', () => {
  test('a text file as the database (a wrong --db) is refused and left exactly where and as it was', () => {
    const dbPath = path.join(dir, 'sensor.yaml');
    fs.writeFileSync(dbPath, 'mqtt:\n  url: mqtt://broker:1883\nmin_seen: 50\n');
    const original = sha(dbPath);
    expect(() => openSensorDb(dbPath)).toThrow(/is a text file, not a sensor database; it was not modified/);
    expect(sha(dbPath)).toBe(original);
    expect(fs.readdirSync(dir)).toEqual(['sensor.yaml']);
  });

  test('other recognisable files — UTF-8 text, a capture, an archive — are refused and left as they were too', () => {
    const files: [string, Buffer, RegExp][] = [
      ['README.md', Buffer.from('# ja4-sensor\n\nA sensor – for Raspberry Pi → JA4+ fingerprints, “profiles” and alerts.\n'), /is a text file/],
      ['capture.pcap', fs.readFileSync(path.join(process.cwd(), 'test/fixtures/demo.pcap')).subarray(0, 4096), /is a pcap capture/],
      ['profiles.jsonl.gz', Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x01, 0x02]), /is a gzip file/],
    ];
    for (const [name, content, message] of files) {
      const dbPath = path.join(dir, name);
      fs.writeFileSync(dbPath, content);
      expect(() => openSensorDb(dbPath)).toThrow(message);
      expect(fs.readFileSync(dbPath).equals(content)).toBe(true);
    }
    expect(fs.readdirSync(dir).sort()).toEqual(files.map(([name]) => name).sort());
  });

  test('a directory as the database is refused with a message naming it', () => {
    expect(() => openSensorDb(dir)).toThrow(/is a directory/);
  });

  test('a file whose header the card damaged (not SQLite, not text) is moved aside (never deleted) and the sensor starts empty', () => {
    const dbPath = path.join(dir, 'sensor.db');
    // Zeros and noise where the header was: what a failing card leaves, unlike a text file.
    const damaged = Buffer.alloc(8192);
    for (let i = 100; i < damaged.length; i++) damaged[i] = (i * 7919) & 0xff;
    fs.writeFileSync(dbPath, damaged);
    const original = sha(dbPath);
    const { log, lines } = collectingLogger();
    const store = openSensorDb(dbPath, { log });
    expect(store.recovery).toMatchObject({ reason: 'not a SQLite database', restoredFrom: null });
    expect(path.basename(store.recovery!.movedTo)).toMatch(/^sensor\.db\.corrupt-\d{8}T\d{9}Z$/);
    expect(sha(store.recovery!.movedTo)).toBe(original);
    expect(lines.map((l) => l.message).join('\n')).toMatch(/moved aside[\s\S]*starting with an empty database/);
    expect([...iterateProfiles(store.db)]).toEqual([]);
    store.close();
  });

  test('a database failing quick_check is moved aside and replaced from the newest good snapshot', async () => {
    const dbPath = path.join(dir, 'sensor.db');
    await populated(dbPath, 3000, true);
    expect(listSnapshots(dbPath)).toHaveLength(1);
    // Scribble over pages 2-5, where the tables' roots are: their B-tree headers now hold garbage.
    const fd = fs.openSync(dbPath, 'r+');
    fs.writeSync(fd, crypto.randomBytes(4 * 4096), 0, 4 * 4096, 4096);
    fs.closeSync(fd);
    expect(quickCheckFile(dbPath)).not.toBe('ok');

    const { log, lines } = collectingLogger();
    const store = openSensorDb(dbPath, { log });
    expect(store.recovery?.reason).toMatch(/quick_check|CORRUPT/);
    expect(store.recovery?.restoredFrom).toBe(listSnapshots(dbPath)[0]);
    expect(fs.existsSync(store.recovery!.movedTo)).toBe(true);
    expect(lines.some((l) => l.message.includes('restored'))).toBe(true);
    expect([...iterateProfiles(store.db)]).toHaveLength(3000);
    store.close();
    expect(quickCheckFile(dbPath)).toBe('ok');
  });

  test('a bad newer snapshot is skipped for an older good one', async () => {
    const dbPath = path.join(dir, 'sensor.db');
    await populated(dbPath, 500, true);
    const good = listSnapshots(dbPath)[0]!;
    fs.writeFileSync(`${dbPath}.snapshot-29991231T000000000Z`, 'garbage');
    fs.writeFileSync(dbPath, 'garbage');
    const store = openSensorDb(dbPath);
    expect(store.recovery?.restoredFrom).toBe(good);
    expect([...iterateProfiles(store.db)]).toHaveLength(500);
    store.close();
  });

  test('a truncated database (torn copy) is recovered and the sensor keeps starting', () => {
    const dbPath = path.join(dir, 'sensor.db');
    populated(dbPath, 3000);
    fs.truncateSync(dbPath, 4096 * 3);
    for (let i = 0; i < 2; i++) {
      const store = openSensorDb(dbPath); // never throws: start-up must not crash-loop
      const p = new BehaviorProfiler();
      loadProfiles(store.db, p);
      store.close();
    }
    expect(fs.readdirSync(dir).filter((f) => /\.corrupt-[0-9TZ]+$/.test(f)).length).toBe(1);
    expect(quickCheckFile(dbPath)).toBe('ok');
  });
});

describe('snapshots', () => {
  test('keeps the newest N, each verified', async () => {
    const dbPath = path.join(dir, 'sensor.db');
    const store = openSensorDb(dbPath);
    const profiler = new BehaviorProfiler();
    loadProfiles(store.db, profiler);
    let t = Date.parse('2024-05-01T00:00:00Z');
    const persister = new Persister(store, profiler, { snapshotKeep: 2, snapshotIntervalMs: 0, now: () => t });
    const taken: string[] = [];
    for (let i = 0; i < 4; i++) {
      profiler.observe('ja4>ja4t:a', `c${i}`, t);
      persister.flushNow();
      taken.push((await persister.snapshotNow())!);
      t += 86_400_000;
    }
    const kept = listSnapshots(dbPath);
    expect(kept).toEqual([taken[3], taken[2]]);
    for (const s of kept) expect(quickCheckFile(s)).toBe('ok');
    const snap = new Database(kept[0]!, { readonly: true });
    expect([...iterateProfiles(snap)]).toHaveLength(4);
    snap.close();
    store.close();
  });
});
