/**
 * A full disk: the flush fails cleanly, nothing in memory is forgotten, a clear error is logged,
 * nothing already committed is lost, and the next flush (once there is room) writes everything.
 * Runs on a 2 MB tmpfs; skipped, saying why, where mounting is not permitted.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
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
