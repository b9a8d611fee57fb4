/**
 * A full disk: the flush fails cleanly, nothing in memory is forgotten, a clear error is logged,
 * nothing already committed is lost, and the next flush (once there is room) writes everything.
 * Runs on a 2 MB tmpfs; skipped, saying why, where mounting is not permitted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { BehaviorProfiler } from '../../src/anomaly/profiler.js';
import { openSensorDb } from '../../src/storage/db.js';
import { iterateProfiles, loadProfiles } from '../../src/storage/profiles.js';
import { Persister } from '../../src/storage/persister.js';
import { tempDir, collectingLogger } from './helpers.js';

function mountSmallFs(): { dir: string; unmount: () => void } | string {
  const dir = tempDir('sensor-fulldisk-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    return `cannot mount a 2 MB tmpfs (${((err as { stderr?: Buffer }).stderr?.toString() || (err as Error).message).trim()}); needs root or CAP_SYS_ADMIN`;
  }
  return {
    dir,
    unmount: () => {
      execFileSync('umount', [dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Fills the filesystem until ENOSPC; returns the filler's path. */
function fill(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(4096, 0xab);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

const mounted = mountSmallFs();
const maybe = typeof mounted === 'string' ? test.skip : test;
if (typeof mounted === 'string') console.warn(`full-disk test skipped: ${mounted}`);
afterAll(() => { if (typeof mounted !== 'string') mounted.unmount(); });

maybe('full disk: flush fails cleanly, keeps state, loses nothing committed, retries', () => {
  const { dir } = mounted as { dir: string };
  const dbPath = path.join(dir, 'sensor.db');
  const { log, lines } = collectingLogger();
  const store = openSensorDb(dbPath, { log, journalSizeLimit: 64 * 1024 });
  const profiler = new BehaviorProfiler({ maxCompanionsPerAnchor: 10_000 });
  loadProfiles(store.db, profiler);
  const persister = new Persister(store, profiler, { log, snapshotIntervalMs: 0 });

  for (let i = 0; i < 200; i++) profiler.observe(`ja4>ja4t:committed${i % 20}`, `c${i}`, 1000 + i);
  expect(persister.flushNow().ok).toBe(true);
  const committed = [...iterateProfiles(store.db)];
  expect(committed).toHaveLength(200);

  const filler = fill(dir);
  // More than fits in what is left, but little enough to fit once the filler is gone.
  for (let i = 0; i < 3000; i++) profiler.observe(`ja4>ja4t:late${i % 50}`, `companion-${i}-${'y'.repeat(60)}`, 5000 + i);
  profiler.observe('ja4>ja4t:committed0', 'c0', 9999); // a committed row changed again
  const dirtyBefore = profiler.dirtyCount;

  const failed = persister.flushNow();
  expect(failed.ok).toBe(false);
  expect(failed.error).toMatch(/^disk full writing .*sensor\.db \(SQLITE_FULL\)/);
  expect(lines.some((l) => l.level === 'error' && /flush failed, \d+ changed rows .* kept in memory, retrying/.test(l.message))).toBe(true);
  expect(profiler.dirtyCount).toBe(dirtyBefore);
  expect(profiler.countOf('ja4>ja4t:committed0', 'c0')).toBe(2);

  // What was committed is intact, read by another connection while the disk is still full.
  const reader = new Database(dbPath, { readonly: true });
  expect(reader.pragma('integrity_check', { simple: true })).toBe('ok');
  expect([...iterateProfiles(reader)]).toEqual(committed);
  reader.close();

  // A second attempt while still full fails the same way, without harm.
  expect(persister.flushNow().ok).toBe(false);

  fs.rmSync(filler);
  const retried = persister.flushNow();
  expect(retried).toMatchObject({ ok: true, rows: dirtyBefore });
  expect(persister.stop().ok).toBe(true);
  store.close();

  const again = openSensorDb(dbPath);
  const reloaded = new BehaviorProfiler({ maxCompanionsPerAnchor: 10_000 });
  loadProfiles(again.db, reloaded);
  expect(reloaded.rowCount).toBe(3200);
  expect(reloaded.countOf('ja4>ja4t:committed0', 'c0')).toBe(2);
  expect(again.db.pragma('integrity_check', { simple: true })).toBe('ok');
  again.close();
});

maybe('full disk at start-up: a clear DISK_FULL error, the database untouched', () => {
  const { dir } = mounted as { dir: string };
  const dbPath = path.join(dir, 'sensor.db');
  const before = fs.readFileSync(dbPath);
  const filler = fill(dir);
  try {
    let error: unknown;
    try { openSensorDb(dbPath); } catch (err) { error = err; }
    expect(error).toMatchObject({ code: 'DISK_FULL' });
    expect((error as Error).message).toMatch(/cannot open database .*sensor\.db: no space left on its filesystem/);
    expect(fs.readFileSync(dbPath).equals(before)).toBe(true);
    expect(fs.readdirSync(dir).filter((f) => f.includes('corrupt'))).toEqual([]);
  } finally {
    fs.rmSync(filler);
  }
  const store = openSensorDb(dbPath);
  expect([...iterateProfiles(store.db)]).toHaveLength(3200);
  store.close();
});

maybe('full disk with the sensor stopped: readers still export and back up (the moment an operator needs them)', () => {
  const { dir } = mounted as { dir: string };
  const dbPath = path.join(dir, 'sensor.db');
  // A clean stop leaves no -wal or -shm, and SQLite cannot create the index on a full disk.
  for (const f of [`${dbPath}-wal`, `${dbPath}-shm`]) fs.rmSync(f, { force: true });
  let filler = fill(dir);
  try {
    const cli = path.join(process.cwd(), 'dist/cli/sensorctl.js');
    const run = () => execFileSync(process.execPath, [cli, 'export-profiles', '--db', dbPath, '--no-flush'], { encoding: 'utf8' });
    expect(run().trim().split('\n')).toHaveLength(3200);
    expect(fs.existsSync(`${dbPath}-shm`)).toBe(false); // nothing left behind
    // What a failed open on the full disk used to leave behind: a stub index SQLite could not fill.
    fs.rmSync(filler);
    fs.writeFileSync(`${dbPath}-shm`, 'abc');
    fs.writeFileSync(`${dbPath}-wal`, '');
    filler = fill(dir);
    expect(run().trim().split('\n')).toHaveLength(3200);
    const status = execFileSync(process.execPath, [cli, 'status', '--db', dbPath], { encoding: 'utf8' });
    expect(status).toMatch(/^profiles +3200 rows/m);
    const out = tempDir('sensor-fulldisk-backup-');
    try {
      execFileSync(process.execPath, [cli, 'backup', '--db', dbPath, path.join(out, 'backup.db')], { encoding: 'utf8' });
      const copy = openSensorDb(path.join(out, 'backup.db'), { readonly: true });
      expect([...iterateProfiles(copy.db)]).toHaveLength(3200);
      copy.close();
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
    // The copy goes to TMPDIR; with no room there either, the message says so and what to do.
    const noRoom = spawnSync(process.execPath, [cli, 'export-profiles', '--db', dbPath, '--no-flush'], { encoding: 'utf8', env: { ...process.env, TMPDIR: dir } });
    expect(noRoom.status).toBe(74);
    expect(noRoom.stderr).toMatch(/its filesystem is full, so SQLite cannot create its index file there\) and there is no space there either; free some space or set TMPDIR/);
  } finally {
    fs.rmSync(filler);
    for (const f of [`${dbPath}-wal`, `${dbPath}-shm`]) fs.rmSync(f, { force: true });
  }
});
