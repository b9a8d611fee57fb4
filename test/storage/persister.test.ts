import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { BehaviorProfiler } from '../../src/anomaly/profiler.js';
import { buildAlert } from '../../src/anomaly/alert.js';
import { openSensorDb } from '../../src/storage/db.js';
import { iterateProfiles, loadProfiles } from '../../src/storage/profiles.js';
import { Persister } from '../../src/storage/persister.js';
import { tempDir, collectingLogger } from './helpers.js';

const K = 'ja4>ja4t:t13d1516h2_8daaf6152771_02713d6af862';

function fresh(dbPath: string, opts = {}) {
  const store = openSensorDb(dbPath, { sensorId: 'sensor-test' });
  const profiler = new BehaviorProfiler({ minSeen: 5 });
  const load = loadProfiles(store.db, profiler);
  const persister = new Persister(store, profiler, { snapshotIntervalMs: 0, ...opts });
  return { store, profiler, persister, load };
}

describe('save and load', () => {
  let dir: string;
  beforeEach(() => { dir = tempDir(); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  test('save/load round trip, and a restart keeps counts', () => {
    const dbPath = path.join(dir, 'sensor.db');
    const a = fresh(dbPath);
    for (let i = 0; i < 10; i++) a.profiler.observe(K, 'x', 1000 + i);
    a.profiler.observe(K, 'y', 2000);
    a.profiler.observe('client_ip>ja4:10.0.0.1', 'ja4value', 3000);
    const r = a.persister.flushNow();
    expect(r).toMatchObject({ ok: true, rows: 3 });
    expect(r.bytes).toBeGreaterThan(0);
    const saved = a.profiler.serialize();
    a.persister.stop();
    a.store.close();

    const b = fresh(dbPath);
    expect(b.store.sensorId).toBe('sensor-test');
    const sort = (e: typeof saved) => [...e].sort((x, y) => (x.anchor_key + x.companion_key).localeCompare(y.anchor_key + y.companion_key));
    expect(sort(b.profiler.serialize())).toEqual(sort(saved));
    b.profiler.observe(K, 'x', 4000);
    b.persister.stop();
    b.store.close();

    const c = fresh(dbPath);
    expect(c.profiler.countOf(K, 'x')).toBe(11);
    expect(c.profiler.totalOf(K)).toBe(12);
    c.store.close();
  });

  test('a double flush leaves one set of rows, and the second flush writes nothing', () => {
    const dbPath = path.join(dir, 'sensor.db');
    const a = fresh(dbPath);
    a.profiler.observe(K, 'x', 1);
    a.profiler.observe(K, 'y', 2);
    expect(a.persister.flushNow().rows).toBe(2);
    const second = a.persister.flushNow();
    expect(second).toMatchObject({ ok: true, idle: true, rows: 0, bytes: 0 });
    const rows = [...iterateProfiles(a.store.db)];
    expect(rows).toHaveLength(2);
    a.profiler.observe(K, 'x', 3);
    a.persister.flushNow();
    expect([...iterateProfiles(a.store.db)]).toEqual([
      { anchor_key: K, companion_key: 'x', count: 2, total_seen: 3, last_updated: 3 },
      { anchor_key: K, companion_key: 'y', count: 1, total_seen: 3, last_updated: 2 },
    ]);
    a.persister.stop(); // compacts the journal into the base table
    expect(a.store.db.prepare('SELECT COUNT(*) AS n FROM behavior_profiles').get()).toEqual({ n: 2 });
    expect(a.store.db.prepare('SELECT COUNT(*) AS n FROM profile_journal').get()).toEqual({ n: 0 });
    expect([...iterateProfiles(a.store.db)]).toHaveLength(2);
    a.store.close();
  });

  test('alerts are stored with the flush', () => {
    const dbPath = path.join(dir, 'sensor.db');
    const a = fresh(dbPath);
    for (let i = 0; i < 6; i++) a.profiler.observe(K, 'x', i);
    const v = a.profiler.observe(K, 'new', 10)!;
    const now = Date.now();
    const alert = buildAlert(v, { src_ip: '10.0.0.2', src_port: 5555, dest_ip: '10.0.0.3', dest_port: 443, proto: 'tcp' }, a.store.sensorId, now);
    a.persister.addAlert(alert, now);
    const r = a.persister.flushNow();
    expect(r.alerts).toBe(1);
    const row = a.store.db.prepare('SELECT severity, kind, anchor, companion, payload FROM alerts').get() as Record<string, string>;
    expect(row).toMatchObject({ severity: 'high', kind: 'new_companion', anchor: K, companion: 'new' });
    expect(JSON.parse(row.payload!)).toEqual(alert);
    a.store.close();
  });
});
