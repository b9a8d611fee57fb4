#!/usr/bin/env node
/**
 * npm run bench:flush — what a flush writes to flash, and how fast start-up loads.
 *
 * 1. 100k profile rows; flushes with 1% and 10% of rows dirty (random rows: the worst case for
 *    locality). For each: bytes written to the database files per flush and flush time, for
 *      - this product's flush (dirty rows appended to the journal; compaction cost spread over
 *        the flushes of a whole compaction cycle, shown separately and included in "amortised"),
 *      - the baseline measured in the same run: rewriting every row each flush (as the sensor
 *        this product descends from did),
 *      - for reference, updating only the dirty rows in place in the B-tree,
 *    and the ratio to the baseline. Bytes come from SQLite's WAL frame counters (WAL frames +
 *    pages checkpointed into the main file); /proc/self/io wchar is shown beside them as a check.
 * 2. Start-up with 1M rows: open (quick_check included) and load time, RSS, in a fresh process.
 * 3. A day's projected write volume at 100 and 10,000 profile updates/s with a 30 s flush.
 *
 * Needs `npm run build` first (uses dist/).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => path.join(root, 'dist', p);
if (!fs.existsSync(dist('storage/persister.js'))) {
  console.error('bench:flush needs the build: run `npm run build` first');
  process.exit(2);
}
const { BehaviorProfiler } = await import(dist('anomaly/profiler.js'));
const { openSensorDb } = await import(dist('storage/db.js'));
const { loadProfiles, ProfileStore } = await import(dist('storage/profiles.js'));
const { Persister } = await import(dist('storage/persister.js'));
const { WalMeter, readProcIo } = await import(dist('storage/wal.js'));

// ---------- helpers ----------
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const hex = (r, n) => { let s = ''; for (let i = 0; i < n; i++) s += Math.floor(r() * 16).toString(16); return s; };
/** Realistic keys: ja4 anchors with ja4t companions. */
function makeKeys(anchors, perAnchor, seed) {
  const r = rng(seed);
  const rows = [];
  for (let a = 0; a < anchors; a++) {
    const ak = `ja4>ja4t:t13d${1500 + Math.floor(r() * 500)}h2_${hex(r, 12)}_${hex(r, 12)}`;
    for (let c = 0; c < perAnchor; c++) rows.push([ak, `${64000 + Math.floor(r() * 2000)}_2-4-8-1-3_1460_${Math.floor(r() * 14)}${c}`]);
  }
  return rows;
}
/** Zipf(s) over n ranks by inverse CDF; rank k is row k of the key list, whose key order is random. */
function zipf(n, s, r) {
  const cdf = new Float64Array(n);
  let acc = 0;
  for (let k = 0; k < n; k++) { acc += 1 / Math.pow(k + 1, s); cdf[k] = acc; }
  return () => {
    const u = r() * acc;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (cdf[mid] < u) lo = mid + 1; else hi = mid; }
    return lo;
  };
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
const kb = (b) => `${(b / 1024).toFixed(1)} KiB`;
const mb = (b) => `${(b / 1e6).toFixed(1)} MB`;
const pct = (x) => `${(100 * x).toFixed(2)}%`;
const ms = (x) => `${x.toFixed(1)} ms`;
function table(headers, rows) {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(w[i])).join('  ');
  console.log(line(headers));
  console.log(w.map((n) => '-'.repeat(n)).join('  '));
  for (const r of rows) console.log(line(r));
}

// ---------- child mode: start-up load of a big database ----------
if (process.argv[2] === '--load-child') {
  const dbPath = process.argv[3];
  const t0 = performance.now();
  const store = openSensorDb(dbPath);
  const t1 = performance.now();
  const profiler = new BehaviorProfiler({ maxAnchors: 1_000_000, maxCompanionsPerAnchor: 64 });
  const report = loadProfiles(store.db, profiler);
  const t2 = performance.now();
  const rss = process.memoryUsage().rss;
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  process.stdout.write(JSON.stringify({ openMs: t1 - t0, loadMs: t2 - t1, rows: profiler.rowCount, report, rss, hwm }) + '\n');
  store.close();
  process.exit(0);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-flush-'));
const N = 100_000;
console.log(`bench:flush — node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, db in ${dir}\n`);

// ---------- 1. 100k rows: journal flush vs full rewrite vs in-place ----------
function setup(name) {
  const dbPath = path.join(dir, `${name}.db`);
  const store = openSensorDb(dbPath);
  const profiler = new BehaviorProfiler({ maxAnchors: 1_000_000, maxCompanionsPerAnchor: 64, minSeen: 1e12 });
  const persister = new Persister(store, profiler, { snapshotIntervalMs: 0, writeBudgetMbPerDay: 0 });
  const keys = makeKeys(N / 10, 10, 42);
  const t0 = Date.now();
  for (const [a, c] of keys) profiler.observe(a, c, t0);
  persister.flushNow();
  persister.stop(); // compacts: everything in the base table
  return { dbPath, store, profiler, persister: new Persister(store, profiler, { snapshotIntervalMs: 0, writeBudgetMbPerDay: 0 }), keys };
}

function pickDirty(r, keys, n) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = keys[Math.floor(r() * keys.length)];
  return out;
}

/** Our flush: `flushes` flushes of `frac` dirty rows, compactions included when due. */
function runJournal(frac, flushes) {
  const s = setup(`journal-${frac}`);
  const r = rng(7);
  const n = Math.round(N * frac);
  const flushOnly = [];
  const times = [];
  const compactions = [];
  let total = 0;
  let wchar = 0;
  for (let f = 0; f < flushes; f++) {
    const t = Date.now();
    for (const [a, c] of pickDirty(r, s.keys, n)) s.profiler.observe(a, c, t);
    const io0 = readProcIo();
    const rep = s.persister.flushNow('timer');
    const io1 = readProcIo();
    if (!rep.ok) throw new Error(rep.error);
    total += rep.bytes;
    if (io0 && io1) wchar += io1.wchar - io0.wchar;
    if (rep.compacted > 0) compactions.push(rep);
    else { flushOnly.push(rep.bytes); times.push(rep.durationMs); }
  }
  const result = {
    dirtyRows: n,
    flushBytes: median(flushOnly),
    flushMs: median(times),
    compactions: compactions.length,
    compactionBytes: compactions.length ? median(compactions.map((c) => c.bytes)) : 0,
    compactionMs: compactions.length ? median(compactions.map((c) => c.durationMs)) : 0,
    amortisedBytes: total / flushes,
    wcharPerFlush: wchar / flushes,
    dbBytes: fs.statSync(s.dbPath).size,
  };
  s.store.close();
  return result;
}

/** Writes `rows` with a prepared upsert into the base table in one transaction, checkpointed like a flush. */
function runInPlace(name, pickRows, reps) {
  const s = setup(name);
  const db = s.store.db;
  const upsert = db.prepare(
    `INSERT INTO behavior_profiles (anchor_key, companion_key, count, total_seen, last_updated) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (anchor_key, companion_key) DO UPDATE SET count = excluded.count, total_seen = excluded.total_seen, last_updated = excluded.last_updated`);
  const meter = new WalMeter(db, s.dbPath, s.store.pageSize, s.store.journalSizeLimit);
  const bytes = [];
  const times = [];
  let wchar = 0;
  let v = 100;
  const r = rng(9);
  for (let i = 0; i < reps; i++) {
    const rows = pickRows(r, s.keys);
    v++;
    const io0 = readProcIo();
    const t0 = performance.now();
    db.transaction(() => { for (const [a, c] of rows) upsert.run(a, c, v, v * 10, Date.now()); })();
    const w = meter.checkpointAndMeasure();
    times.push(performance.now() - t0);
    const io1 = readProcIo();
    bytes.push(w.bytes);
    if (io0 && io1) wchar += io1.wchar - io0.wchar;
  }
  s.store.close();
  return { bytes: median(bytes), ms: median(times), wcharPerFlush: wchar / reps };
}

const baseline = runInPlace('baseline', (_r, keys) => keys, 5);
const results = [];
for (const [frac, flushes] of [[0.01, 250], [0.1, 40]]) {
  const ours = runJournal(frac, flushes);
  const inPlace = runInPlace(`inplace-${frac}`, (r, keys) => pickDirty(r, keys, Math.round(N * frac)), 10);
  results.push({ frac, ours, inPlace });
}

console.log(`1. Flush of a 100k-row profile table (page size 4096; ${kb(fs.statSync(path.join(dir, 'baseline.db')).size)} database)`);
console.log(`   baseline (rewrite every row each flush): ${kb(baseline.bytes)} per flush, ${ms(baseline.ms)}  [/proc wchar ${kb(baseline.wcharPerFlush)}]\n`);
table(
  ['dirty', 'rows', 'journal flush', 'flush time', 'ratio', 'compaction (every)', 'amortised incl. compaction', 'ratio', 'in-place dirty rows', 'ratio', '/proc wchar/flush'],
  results.map(({ frac, ours, inPlace }) => [
    pct(frac), ours.dirtyRows,
    kb(ours.flushBytes), ms(ours.flushMs), pct(ours.flushBytes / baseline.bytes),
    ours.compactions ? `${kb(ours.compactionBytes)}, ${ms(ours.compactionMs)} (x${ours.compactions})` : 'none',
    kb(ours.amortisedBytes), pct(ours.amortisedBytes / baseline.bytes),
    `${kb(inPlace.bytes)}, ${ms(inPlace.ms)}`, pct(inPlace.bytes / baseline.bytes),
    kb(ours.wcharPerFlush),
  ]),
);
const one = results[0].ours;
console.log(`\n   goals: <= 3% of baseline bytes at 1% dirty: flush ${pct(one.flushBytes / baseline.bytes)}, amortised ${pct(one.amortisedBytes / baseline.bytes)} ` +
  `${one.amortisedBytes / baseline.bytes <= 0.03 ? 'MET' : 'NOT MET'}; 1%-dirty flush < 20 ms: ${ms(one.flushMs)} ${one.flushMs < 20 ? 'MET' : 'NOT MET'}`);

// ---------- 2. start-up with 1M rows ----------
{
  const dbPath = path.join(dir, 'million.db');
  const store = openSensorDb(dbPath);
  const ps = new ProfileStore(store.db);
  const keys = makeKeys(100_000, 10, 1234);
  const now = Date.now();
  const t0 = performance.now();
  store.db.transaction(() => {
    ps.writeBase(keys.map(([a, c], i) => ({ anchor_key: a, companion_key: c, count: 1 + (i % 97), total_seen: 5000, last_updated: now })));
  })();
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  const buildMs = performance.now() - t0;
  store.close();
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--load-child', dbPath], { encoding: 'utf8' });
  if (child.status !== 0) throw new Error(`load child failed: ${child.stderr}`);
  const res = JSON.parse(child.stdout);
  console.log(`\n2. Start-up with 1M profile rows (${mb(fs.statSync(dbPath).size)} database, built in ${(buildMs / 1000).toFixed(1)} s)`);
  table(['rows', 'open + quick_check', 'load', 'open + load', 'RSS after load', 'peak RSS'],
    [[res.rows, ms(res.openMs), ms(res.loadMs), ms(res.openMs + res.loadMs), mb(res.rss), mb(res.hwm)]]);
  console.log(`   goals: load < 3 s: ${res.loadMs < 3000 ? 'MET' : 'NOT MET'} (with quick_check ${res.openMs + res.loadMs < 3000 ? 'also under' : 'over'} 3 s); ` +
    `RSS < 250 MB: ${res.hwm < 250e6 ? 'MET' : 'NOT MET'}`);
}

// ---------- 3. projected daily write volume ----------
{
  console.log('\n3. Projected daily write volume, 30 s flush (2,880 flushes a day), 100k-row table');
  const rows = [];
  for (const rate of [100, 10_000]) {
    for (const dist of ['Zipf s=1 (hot few)', 'uniform (worst case)']) {
      const s = setup(`proj-${rate}-${dist.slice(0, 4)}`);
      const r = rng(rate);
      const perFlush = rate * 30;
      const pick = dist.startsWith('Zipf') ? zipf(N, 1, r) : () => Math.floor(r() * N);
      const flushes = rate === 100 ? 60 : 12;
      let bytes = 0;
      let distinct = 0;
      for (let f = 0; f < flushes; f++) {
        const t = Date.now();
        for (let i = 0; i < perFlush; i++) { const [a, c] = s.keys[pick()]; s.profiler.observe(a, c, t); }
        distinct += s.profiler.collectDirty().upserts.length;
        const rep = s.persister.flushNow('timer');
        bytes += rep.bytes;
      }
      s.store.close();
      const perDay = (bytes / flushes) * 2880;
      rows.push([`${rate}/s`, dist, perFlush, Math.round(distinct / flushes), kb(bytes / flushes), mb(perDay), mb(baseline.bytes * 2880)]);
    }
  }
  table(['updates', 'key distribution', 'updates/flush', 'distinct rows/flush', 'bytes/flush (amortised)', 'per day', 'baseline per day'], rows);
}

fs.rmSync(dir, { recursive: true, force: true });
