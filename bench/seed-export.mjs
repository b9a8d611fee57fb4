#!/usr/bin/env node
/**
 * Seeding and exporting a million profile rows through the real CLI (`node dist/cli/sensorctl.js`),
 * as subprocesses: rows/s and peak RSS of each, beside a same-run baseline (the same rows read
 * straight from SQLite in this process, nothing else done with them).
 *
 * Goals (issue 5): seed >= 200k rows/s, export >= 300k rows/s, peak RSS < 120 MB for either.
 * Usage: npm run bench:seed [-- --rows N]   (build first: npm run build)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/cli/sensorctl.js');
const probe = path.join(root, 'bench/rss-probe.mjs');
if (!fs.existsSync(cli)) {
  console.error('bench: build first (npm run build)');
  process.exit(1);
}
const { openSensorDb } = await import(path.join(root, 'dist/storage/db.js'));
// Run the CLI with the node flags of its own shebang (`#!/usr/bin/env -S node FLAGS`), as the installed bin runs.
const shebang = fs.readFileSync(cli, 'utf8').split('\n', 1)[0];
const nodeFlags = shebang.startsWith('#!/usr/bin/env -S node') ? shebang.slice('#!/usr/bin/env -S node'.length).trim().split(/\s+/).filter(Boolean) : [];

const argRows = process.argv.indexOf('--rows');
const ROWS = argRows > 0 ? Number(process.argv[argRows + 1]) : 1_000_000;
const COMPANIONS = 10;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-seed-'));
const src = path.join(dir, 'source.db');
const dest = path.join(dir, 'dest.db');
const out = path.join(dir, 'export.jsonl');

function hex(n, seed) {
  let s = '';
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    s += ((x >>> 16) & 15).toString(16);
  }
  return s;
}

// A source shaped like a busy sensor's database: ROWS / COMPANIONS anchors (JA4 → JA4T), COMPANIONS companions each.
let t = performance.now();
const store = openSensorDb(src, { sensorId: 'bench-source' });
const insert = store.db.prepare('INSERT INTO behavior_profiles (anchor_key, companion_key, count, total_seen, last_updated) VALUES (?, ?, ?, ?, ?)');
const base = Date.UTC(2024, 0, 1);
store.db.transaction(() => {
  const anchors = [];
  for (let a = 0; a < ROWS / COMPANIONS; a++) anchors.push(a);
  for (const a of anchors) {
    const anchor = `ja4>ja4t:t13d1516h2_${hex(12, a)}_${hex(12, a * 7 + 1)}`;
    const total = COMPANIONS * 100;
    for (let c = 0; c < COMPANIONS; c++) insert.run(anchor, `64240_2-4-8-1-3_1460_${c}${hex(4, a + c)}`, 100, total, base + a * 1000 + c);
  }
})();
store.close();
// Let the kernel write the fresh 108 MB back before anything is timed: otherwise the seed's own
// writes queue behind that writeback (~0.6 s here), which a seed from a backup made earlier never sees.
execFileSync('sync');
const srcBytes = fs.statSync(src).size;
console.log(`source: ${ROWS} rows, ${(srcBytes / 1e6).toFixed(1)} MB, built in ${((performance.now() - t) / 1000).toFixed(1)} s (${dir})`);

function runCli(args, okCodes = [0]) {
  const rssFile = path.join(dir, `rss-${Date.now()}`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...nodeFlags, '--import', probe, cli, ...args], { env: { ...process.env, RSS_PROBE_OUT: rssFile }, encoding: 'utf8' });
  const s = (performance.now() - t0) / 1000;
  if (!okCodes.includes(r.status)) {
    console.error(`bench: sensorctl ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    process.exit(1);
  }
  const rssMb = Number(fs.readFileSync(rssFile, 'utf8')) / 1024;
  return { s, rssMb, stdout: r.stdout };
}

// Baseline: the same rows read from SQLite, in this process, and nothing else.
function baselineScan(file) {
  const db = new Database(file, { readonly: true });
  const t0 = performance.now();
  let n = 0;
  for (const _ of db.prepare('SELECT anchor_key, companion_key, count, total_seen, last_updated FROM behavior_profiles ORDER BY anchor_key, companion_key').raw(true).iterate()) n++;
  db.close();
  return { n, s: (performance.now() - t0) / 1000 };
}
const baseline = baselineScan(src);
const baseRate = baseline.n / baseline.s;

const seed = runCli(['seed', src, '--db', dest, '--json', '--no-progress']);
const seedResult = JSON.parse(seed.stdout);
if (seedResult.outcome !== 'applied' || seedResult.stats.rows !== ROWS) {
  console.error(`bench: unexpected seed result ${seed.stdout}`);
  process.exit(1);
}
const again = runCli(['seed', src, '--db', dest, '--json', '--no-progress'], [3]);
const exp = runCli(['export-profiles', '--db', dest, '--output', out, '--no-flush']);
const lines = Number(execFileSync('wc', ['-l', out], { encoding: 'utf8' }).trim().split(/\s+/)[0]);
if (lines !== ROWS) {
  console.error(`bench: export wrote ${lines} lines, expected ${ROWS}`);
  process.exit(1);
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const seedRate = ROWS / seed.s;
const exportRate = ROWS / exp.s;
console.log(`baseline  SQLite scan of the same rows in-process: ${fmt(baseRate)} rows/s (${baseline.s.toFixed(2)} s)`);
console.log(`seed      ${fmt(seedRate)} rows/s (${seed.s.toFixed(2)} s wall, whole CLI process), peak RSS ${seed.rssMb.toFixed(0)} MB; ${(seedRate / baseRate * 100).toFixed(0)}% of baseline   goal >= 200,000 rows/s, < 120 MB: ${seedRate >= 200_000 && seed.rssMb < 120 ? 'met' : 'NOT met'}`);
console.log(`re-seed   no-op in ${again.s.toFixed(2)} s (outcome ${JSON.parse(again.stdout).outcome}), peak RSS ${again.rssMb.toFixed(0)} MB`);
console.log(`export    ${fmt(exportRate)} rows/s (${exp.s.toFixed(2)} s wall, ${(fs.statSync(out).size / 1e6).toFixed(0)} MB of JSON lines), peak RSS ${exp.rssMb.toFixed(0)} MB; ${(exportRate / baseRate * 100).toFixed(0)}% of baseline   goal >= 300,000 rows/s, < 120 MB: ${exportRate >= 300_000 && exp.rssMb < 120 ? 'met' : 'NOT met'}`);
fs.rmSync(dir, { recursive: true, force: true });
