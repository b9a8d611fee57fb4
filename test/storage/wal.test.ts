/**
 * The field failure this guards against: a WAL that never shrinks once a long reader (an export)
 * has been open. A reader is held open across 20 flushes; the WAL may grow only by what those
 * flushes wrote, and the first flush after the reader closes brings it back under its limit.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BehaviorProfiler } from '../../src/anomaly/profiler.js';
import { openSensorDb } from '../../src/storage/db.js';
import { iterateProfiles, loadProfiles } from '../../src/storage/profiles.js';
import { Persister } from '../../src/storage/persister.js';
import { WAL_FRAME_HEADER, WAL_HEADER } from '../../src/storage/wal.js';
import { tempDir, rng, hex } from './helpers.js';

const LIMIT = 64 * 1024;

test('a reader held open across 20 flushes: WAL bounded by what they wrote, back under the limit after', () => {
  const dir = tempDir();
  try {
    const dbPath = path.join(dir, 'sensor.db');
    const store = openSensorDb(dbPath, { journalSizeLimit: LIMIT });
    const profiler = new BehaviorProfiler();
    loadProfiles(store.db, profiler);
    const persister = new Persister(store, profiler, { snapshotIntervalMs: 0, compactMinRows: 1e9 });
    const r = rng(7);
    const anchors = Array.from({ length: 300 }, () => `ja4>ja4t:t13d1516h2_${hex(r, 12)}_${hex(r, 12)}`);
    const touch = (n: number, t: number) => {
      for (let i = 0; i < n; i++) profiler.observe(anchors[Math.floor(r() * anchors.length)]!, `64240_2-4-8-1-3_1460_${Math.floor(r() * 8)}`, t);
    };
    touch(2000, 1);
    expect(persister.flushNow().ok).toBe(true);

    const reader = new Database(dbPath, { readonly: true });
    const exportRows = iterateProfiles(reader);
    expect(exportRows.next().done).toBe(false); // the read transaction is now open
    const walPath = `${dbPath}-wal`;
    const size = () => (fs.existsSync(walPath) ? fs.statSync(walPath).size : 0);
    const before = size();
    let written = 0;
    for (let f = 0; f < 20; f++) {
      touch(300, 10 + f);
      const report = persister.flushNow();
      expect(report.ok).toBe(true);
      written += report.walFrames * (store.pageSize + WAL_FRAME_HEADER);
    }
    const during = size();
    expect(during - before).toBeLessThanOrEqual(written + WAL_HEADER);
    expect(during).toBeGreaterThan(LIMIT); // the reader really did pin the WAL
    expect(persister.stats().walFileBytes).toBe(during);

    exportRows.return?.();
    reader.close();
    touch(300, 100);
    const after = persister.flushNow();
    expect(after.ok).toBe(true);
    expect(size()).toBeLessThanOrEqual(LIMIT);
    expect(after.walFileBytes).toBeLessThanOrEqual(LIMIT);
    persister.stop();
    store.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
