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
/** A plausible capture time: the store clamps anything before 2000 (see storableTimestamp). */
const T = Date.UTC(2024, 0, 1);

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
    for (let i = 0; i < 10; i++) a.profiler.observe(K, 'x', T + 1000 + i);
    a.profiler.observe(K, 'y', T + 2000);
    a.profiler.observe('client_ip>ja4:10.0.0.1', 'ja4value', T + 3000);
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
    b.profiler.observe(K, 'x', T + 4000);
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
    a.profiler.observe(K, 'x', T + 1);
    a.profiler.observe(K, 'y', T + 2);
    expect(a.persister.flushNow().rows).toBe(2);
    const second = a.persister.flushNow();
    expect(second).toMatchObject({ ok: true, idle: true, rows: 0, bytes: 0 });
    const rows = [...iterateProfiles(a.store.db)];
    expect(rows).toHaveLength(2);
    a.profiler.observe(K, 'x', T + 3);
    a.persister.flushNow();
    expect([...iterateProfiles(a.store.db)]).toEqual([
      { anchor_key: K, companion_key: 'x', count: 2, total_seen: 3, last_updated: T + 3 },
      { anchor_key: K, companion_key: 'y', count: 1, total_seen: 3, last_updated: T + 2 },
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

describe('wear-aware flush', () => {
  let dir: string;
  beforeEach(() => { dir = tempDir(); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  const fileState = (dbPath: string) =>
    ['', '-wal', '-shm'].map((s) => (fs.existsSync(dbPath + s) ? `${fs.statSync(dbPath + s).size}@${fs.statSync(dbPath + s).mtimeMs}` : 'absent'));

  test('an idle sensor writes 0 bytes to its database files', async () => {
    const dbPath = path.join(dir, 'sensor.db');
    const a = fresh(dbPath, { flushIntervalMs: 20 });
    for (let i = 0; i < 10; i++) a.profiler.observe(K, `c${i}`, i);
    expect(a.persister.flushNow().bytes).toBeGreaterThan(0);
    const before = fileState(dbPath);
    a.persister.start();
    await new Promise((r) => setTimeout(r, 300)); // ~15 timer flushes with nothing to write
    const manual = a.persister.flushNow();
    expect(manual).toMatchObject({ ok: true, idle: true, bytes: 0, pages: 0, rows: 0 });
    expect(fileState(dbPath)).toEqual(before);
    expect(a.persister.stats().flushes).toBe(1);
    a.persister.stop();
    a.store.close();
  });

  test('write accounting: rows, pages and bytes per flush, summed per day', () => {
    const dbPath = path.join(dir, 'sensor.db');
    const a = fresh(dbPath);
    let total = 0;
    for (let f = 0; f < 3; f++) {
      for (let i = 0; i < 100; i++) a.profiler.observe(`ja4>ja4t:a${i}`, 'c', f * 100 + i);
      const r = a.persister.flushNow();
      expect(r.rows).toBe(100);
      expect(r.pages).toBe(r.walFrames + r.checkpointedPages);
      expect(r.walFrames).toBeGreaterThan(0);
      // Frames carry a 24-byte header; a WAL restarted from its start also rewrites its 32-byte header.
      const extra = r.bytes - (r.walFrames * (a.store.pageSize + 24) + r.checkpointedPages * a.store.pageSize);
      expect([0, 32]).toContain(extra);
      total += r.bytes;
      expect(r.dayBytes).toBe(total);
      expect(r.day).toBe(new Date().toISOString().slice(0, 10));
      if (fs.existsSync('/proc/self/io')) expect(typeof r.dayProcWriteBytes).toBe('number');
    }
    expect(a.persister.stats()).toMatchObject({ flushes: 3, dayBytes: total, totalBytes: total });
    a.store.close();
  });

  test('evicted profiles are deleted at the next flush', () => {
    const dbPath = path.join(dir, 'sensor.db');
    const store = openSensorDb(dbPath);
    const profiler = new BehaviorProfiler({ maxCompanionsPerAnchor: 2, maxAnchors: 2 });
    loadProfiles(store.db, profiler);
    const persister = new Persister(store, profiler, { snapshotIntervalMs: 0 });
    profiler.observe('ja4>ja4t:A', 'old', 1);
    profiler.observe('ja4>ja4t:A', 'kept', 2);
    profiler.observe('ja4>ja4t:B', 'x', 3);
    persister.flushNow();
    profiler.observe('ja4>ja4t:A', 'new', 4); // evicts A/old
    profiler.observe('ja4>ja4t:C', 'x', 5);   // evicts anchor B
    const r = persister.flushNow();
    expect(r.deletes).toBe(2);
    const keys = () => [...iterateProfiles(store.db)].map((e) => `${e.anchor_key}/${e.companion_key}`);
    expect(keys()).toEqual(['ja4>ja4t:A/kept', 'ja4>ja4t:A/new', 'ja4>ja4t:C/x']);
    persister.stop(); // compaction applies the deletions to the base table
    expect(keys()).toEqual(['ja4>ja4t:A/kept', 'ja4>ja4t:A/new', 'ja4>ja4t:C/x']);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM behavior_profiles').get()).toEqual({ n: 3 });
    store.close();
    const again = fresh(dbPath);
    expect(again.profiler.serialize().map((e) => `${e.anchor_key}/${e.companion_key}`).sort())
      .toEqual(['ja4>ja4t:A/kept', 'ja4>ja4t:A/new', 'ja4>ja4t:C/x']);
    again.store.close();
  });

  test('the alerts table is bounded by rows and by days', () => {
    const dbPath = path.join(dir, 'sensor.db');
    const now = Date.now();
    const a = fresh(dbPath, { alertMaxRows: 5, alertMaxDays: 2 });
    const verdict = { kind: 'new_companion' as const, severity: 'medium' as const, anchor: K, companion: 'c', count: 1, total_seen: 60, message: 'm' };
    const flow = { src_ip: '10.0.0.1', src_port: 1, dest_ip: '10.0.0.2', dest_port: 443, proto: 'tcp' };
    a.persister.addAlert(buildAlert(verdict, flow, 's', now - 5 * 86_400_000), now - 5 * 86_400_000);
    for (let i = 0; i < 12; i++) a.persister.addAlert(buildAlert({ ...verdict, companion: `c${i}` }, flow, 's', now), now);
    expect(a.persister.flushNow()).toMatchObject({ ok: true, alerts: 13 });
    const rows = a.store.db.prepare('SELECT companion FROM alerts ORDER BY id').all() as { companion: string }[];
    expect(rows.map((r) => r.companion)).toEqual(['c7', 'c8', 'c9', 'c10', 'c11']);
    a.store.close();
  });

  test('high-severity alerts are written at once, without waiting for the flush', async () => {
    const dbPath = path.join(dir, 'sensor.db');
    const a = fresh(dbPath, { flushIntervalMs: 60_000, urgentAlertDelayMs: 10 });
    a.persister.start();
    a.profiler.observe(K, 'x', 1); // a profile change that must wait for the periodic flush
    const verdict = { kind: 'new_companion' as const, severity: 'high' as const, anchor: K, companion: 'c', count: 1, total_seen: 60, message: 'm' };
    a.persister.addAlert(buildAlert(verdict, { src_ip: '1.1.1.1', src_port: 1, dest_ip: '2.2.2.2', dest_port: 2, proto: 6 }, 's', Date.now()));
    await new Promise((r) => setTimeout(r, 100));
    expect(a.store.db.prepare('SELECT COUNT(*) AS n FROM alerts').get()).toEqual({ n: 1 });
    expect(a.profiler.dirtyCount).toBe(1);
    a.persister.stop();
    a.store.close();
  });

  test('an exceeded write budget stretches the interval up to the maximum, logged; shutdown still flushes', () => {
    const dbPath = path.join(dir, 'sensor.db');
    const { log, lines } = collectingLogger();
    let t = Date.parse('2024-05-01T12:00:00Z');
    const a = fresh(dbPath, { flushIntervalMs: 1000, maxIntervalMs: 8000, writeBudgetMbPerDay: 0.5, log, now: () => t });
    const intervals: number[] = [];
    for (let f = 0; f < 6; f++) {
      t += a.persister.currentIntervalMs;
      for (let i = 0; i < 200; i++) a.profiler.observe(`ja4>ja4t:a${f}-${i}`, 'c', t);
      intervals.push(a.persister.flushNow('timer').intervalMs);
    }
    expect(intervals[0]).toBe(2000);
    expect(Math.max(...intervals)).toBe(8000);
    expect(intervals[intervals.length - 1]).toBe(8000);
    expect(lines.find((l) => l.message.includes('stretched'))?.message).toMatch(/write budget 0\.5 MB\/day: .* flush interval stretched from 1 s to 2 s/);
    a.profiler.observe(K, 'last', t);
    expect(a.persister.stop()).toMatchObject({ ok: true, rows: 1 });
    a.store.close();
  });

  test('a flush soon after start (a seed, the end of a short capture) is not extrapolated into a stretched interval', () => {
    const dbPath = path.join(dir, 'sensor.db');
    const { log, lines } = collectingLogger();
    let t = Date.parse('2024-05-01T12:00:00Z');
    // 64 MB/day over 30 s intervals allows ~22 KB per flush; these flushes write more than that
    // each, but 0.1 s after the previous one: as a rate per second they would project to GB/day.
    const a = fresh(dbPath, { flushIntervalMs: 30_000, writeBudgetMbPerDay: 64, log, now: () => t });
    for (let i = 0; i < 50; i++) a.profiler.observe(`ja4>ja4t:early-${i}`, 'c', t);
    t += 100;
    expect(a.persister.flushNow('manual')).toMatchObject({ ok: true, rows: 50, intervalMs: 30_000 });
    for (let i = 0; i < 50; i++) a.profiler.observe(`ja4>ja4t:late-${i}`, 'c', t);
    t += 100;
    expect(a.persister.stop()).toMatchObject({ ok: true, rows: 50 });
    expect(lines.filter((l) => l.message.includes('write budget'))).toEqual([]);
    a.store.close();
  });
});

describe('write budget and operator flushes', () => {
  let dir: string;
  beforeEach(() => { dir = tempDir(); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  test('a seed or import burst (a manual flush) counts in the day but does not stretch the interval; sustained writes still do', () => {
    const dbPath = path.join(dir, 'sensor.db');
    const { log, lines } = collectingLogger();
    let t = Date.parse('2024-05-01T12:00:00Z');
    const a = fresh(dbPath, { flushIntervalMs: 30_000, maxIntervalMs: 600_000, writeBudgetMbPerDay: 64, log, now: () => t });
    t += 30_000;
    for (let i = 0; i < 3000; i++) a.profiler.observe(`ja4>ja4t:seeded-${i}`, `companion-${'x'.repeat(40)}`, t);
    const burst = a.persister.flushNow('manual');
    expect(burst.bytes).toBeGreaterThan(22_000); // more than a 30 s share of 64 MB/day
    t += 30_000;
    a.profiler.observe(K, 'one', t);
    expect(a.persister.flushNow('timer').intervalMs).toBe(30_000);
    expect(a.persister.stats().dayBytes).toBeGreaterThanOrEqual(burst.bytes);
    expect(lines.filter((l) => l.message.includes('write budget'))).toEqual([]);
    // The same volume every interval from the timer is a sustained rate: stretched.
    for (let f = 0; f < 3; f++) {
      t += a.persister.currentIntervalMs;
      for (let i = 0; i < 3000; i++) a.profiler.observe(`ja4>ja4t:flow-${f}-${i}`, `companion-${'x'.repeat(40)}`, t);
      a.persister.flushNow('timer');
    }
    expect(a.persister.currentIntervalMs).toBeGreaterThan(30_000);
    a.persister.stop();
    a.store.close();
  });
});

describe('journal compaction', () => {
  let dir: string;
  beforeEach(() => { dir = tempDir(); });
  afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

  test.each([
    ['journal only', 1e9],
    ['journal and direct writes', 0.25],
  ])('folding from memory, replaying the journal, and the merged view all agree, with evictions (%s)', (_name, directFraction) => {
    const dbPath = path.join(dir, 'sensor.db');
    const store = openSensorDb(dbPath);
    const opts = { maxAnchors: 40, maxCompanionsPerAnchor: 4, minSeen: 1e9 };
    const profiler = new BehaviorProfiler(opts);
    loadProfiles(store.db, profiler);
    const persister = new Persister(store, profiler, { snapshotIntervalMs: 0, compactMinRows: 400, compactRatio: 0.5, directFraction });
    let seed = 1;
    const r = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    const sorted = (e: ReturnType<BehaviorProfiler['serialize']>) =>
      [...e].sort((x, y) => (x.anchor_key + '\0' + x.companion_key < y.anchor_key + '\0' + y.companion_key ? -1 : 1));
    let compactions = 0;
    let direct = 0;
    for (let f = 0; f < 60; f++) {
      for (let i = 0; i < 50; i++) profiler.observe(`ja4>ja4t:a${Math.floor(r() * r() * 60)}`, `c${Math.floor(r() * 7)}`, T + f * 100 + i);
      const rep = persister.flushNow();
      expect(rep.ok).toBe(true);
      if (rep.mode === 'direct') direct++;
      else if (rep.compacted > 0) compactions++;
      expect([...iterateProfiles(store.db)]).toEqual(sorted(profiler.serialize()));
      // A restart at this point would load the same state.
      const reloaded = new BehaviorProfiler(opts);
      loadProfiles(store.db, reloaded);
      expect(sorted(reloaded.serialize())).toEqual(sorted(profiler.serialize()));
    }
    if (directFraction > 1) expect(compactions).toBeGreaterThan(2);
    else expect(direct).toBeGreaterThan(2);
    expect(profiler.evictions.anchors + profiler.evictions.companions).toBeGreaterThan(0);
    persister.stop();
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM profile_journal').get()).toEqual({ n: 0 });
    expect([...iterateProfiles(store.db)]).toEqual(sorted(profiler.serialize()));
    store.close();
  });
});
