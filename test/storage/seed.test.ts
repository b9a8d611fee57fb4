import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import Database from 'better-sqlite3';
import { BehaviorProfiler } from '../../src/anomaly/profiler.js';
import { openSensorDb } from '../../src/storage/db.js';
import { iterateProfiles, loadProfiles } from '../../src/storage/profiles.js';
import { Persister } from '../../src/storage/persister.js';
import { seedProfiles } from '../../src/storage/seed.js';
import { tempDir } from './helpers.js';

let dir: string;
beforeEach(() => { dir = tempDir(); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

const K = 'ja4>ja4t:t13d1516h2_8daaf6152771_02713d6af862';

function sensorDb(file: string, sensorId: string, fill: (p: BehaviorProfiler) => void, compact = true): void {
  const store = openSensorDb(file, { sensorId });
  const profiler = new BehaviorProfiler();
  loadProfiles(store.db, profiler);
  const persister = new Persister(store, profiler, { snapshotIntervalMs: 0, compactOnStop: compact, directFraction: 1e9 });
  fill(profiler);
  persister.flushNow();
  fill(profiler); // a second flush so the journal holds something
  persister.stop();
  store.close();
}

const digestOf = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
const rows = (f: string) => {
  const s = openSensorDb(f, { readonly: true });
  try { return [...iterateProfiles(s.db)]; } finally { s.close(); }
};

test('seed adds counts (each anchor total once), is recorded, and is not applied twice', () => {
  const src = path.join(dir, 'backup.db');
  const dest = path.join(dir, 'sensor.db');
  sensorDb(src, 'pi-old', (p) => { p.observe(K, 'x', 1); p.observe(K, 'y', 2); p.observe(K, 'z', 3); }, false);
  sensorDb(dest, 'pi-new', (p) => { p.observe(K, 'x', 5); });
  const first = seedProfiles(dest, src);
  expect(first).toMatchObject({ rows: 3, anchors: 1, sourceSensorId: 'pi-old', alreadyApplied: false });
  expect(rows(dest)).toEqual([
    { anchor_key: K, companion_key: 'x', count: 4, total_seen: 8, last_updated: 5 },
    { anchor_key: K, companion_key: 'y', count: 2, total_seen: 8, last_updated: 2 },
    { anchor_key: K, companion_key: 'z', count: 2, total_seen: 8, last_updated: 3 },
  ]);
  // The same backup again, even copied elsewhere: recognised, nothing added.
  const copy = path.join(dir, 'copy-of-backup.db');
  fs.copyFileSync(src, copy);
  const before = rows(dest);
  expect(seedProfiles(dest, copy)).toMatchObject({ rows: 0, alreadyApplied: true });
  expect(rows(dest)).toEqual(before);
  const ledger = new Database(dest, { readonly: true });
  expect(ledger.prepare('SELECT source_digest, source_sensor_id, rows FROM seed_ledger').all()).toEqual([
    { source_digest: first.digest, source_sensor_id: 'pi-old', rows: 3 },
  ]);
  ledger.close();
  // A restarted sensor loads the seeded counts.
  const store = openSensorDb(dest);
  const p = new BehaviorProfiler();
  loadProfiles(store.db, p);
  expect(p.countOf(K, 'x')).toBe(4);
  expect(p.totalOf(K)).toBe(8);
  store.close();
});

describe('seed errors leave the destination untouched', () => {
  let dest: string;
  let before: string;
  beforeEach(() => {
    dest = path.join(dir, 'sensor.db');
    sensorDb(dest, 'pi', (p) => p.observe(K, 'x', 1));
    before = digestOf(dest);
  });
  afterEach(() => {
    expect(digestOf(dest)).toBe(before);
  });

  test('missing source', () => {
    expect(() => seedProfiles(dest, path.join(dir, 'nope.db'))).toThrow(expect.objectContaining({ code: 'MISSING', message: expect.stringMatching(/nope\.db does not exist/) }));
  });

  test('the source is the destination, also through a symlink or another path', () => {
    fs.symlinkSync(dest, path.join(dir, 'link.db'));
    for (const src of [dest, path.join(dir, 'link.db'), path.join(dir, '.', 'sub', '..', 'sensor.db')]) {
      if (src.includes('sub')) fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
      expect(() => seedProfiles(dest, src)).toThrow(expect.objectContaining({ code: 'SAME_FILE' }));
    }
  });

  test('a file that is not a sensor database', () => {
    const text = path.join(dir, 'notes.txt');
    fs.writeFileSync(text, 'hello');
    expect(() => seedProfiles(dest, text)).toThrow(expect.objectContaining({ code: 'NOT_SENSOR_DB', message: expect.stringMatching(/unusable: not a SQLite database/) }));
    const other = path.join(dir, 'other.db');
    const raw = new Database(other);
    raw.exec('CREATE TABLE t (x)');
    raw.close();
    expect(() => seedProfiles(dest, other)).toThrow(expect.objectContaining({ code: 'NOT_SENSOR_DB' }));
  });

  test('a running sensord holds the destination', () => {
    const src = path.join(dir, 'backup.db');
    sensorDb(src, 'pi-old', (p) => p.observe(K, 'y', 1));
    fs.writeFileSync(`${dest}.lock`, `${process.ppid}\n`);
    expect(() => seedProfiles(dest, src)).toThrow(expect.objectContaining({ code: 'LOCKED' }));
    fs.rmSync(`${dest}.lock`);
  });
});
