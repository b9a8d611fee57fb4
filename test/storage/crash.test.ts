/**
 * Crash safety: the writer is killed with SIGKILL at random moments — during start-up, while it
 * processes traffic, in the middle of a flush or a compaction — many times in a row on the same
 * database. After each kill `PRAGMA integrity_check` is ok, and:
 *
 * 1. sensord (dist/daemon/sensord.js), fed an endless capture on stdin (the demo capture repeated,
 *    each repetition with other client ports and addresses and later timestamps), 200 kills
 *    (CRASH_ITERATIONS): every count is at least what was committed just before the kill (read by
 *    a second connection) — so what the last completed flush wrote survives and a restart loads
 *    it — and no count grew by more than the traffic written to sensord could produce (no doubling).
 * 2. test/storage/crash-driver.mjs, the storage code alone with deterministic traffic-like
 *    observations, 40 kills (CRASH_DRIVER_ITERATIONS): the change since the previous run equals
 *    exactly the first m observations fed, m being a flush boundary — nothing lost, nothing doubled.
 */
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { iterateProfiles } from '../../src/storage/profiles.js';
import { tempDir, rng } from './helpers.js';
// @ts-expect-error plain JS module shared with the driver
import { makeTraffic } from './traffic.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const sensord = path.resolve(here, '../../dist/daemon/sensord.js');
const demoPcap = path.resolve(here, '../fixtures/demo.pcap');
const root = path.resolve(here, '../..');
const driver = path.join(here, 'crash-driver.mjs');
const ITERATIONS = Number(process.env.CRASH_ITERATIONS ?? 200);
const DRIVER_ITERATIONS = Number(process.env.CRASH_DRIVER_ITERATIONS ?? 40);
const BATCH = 200;

type State = Map<string, { count: number; total: number }>;

function readState(db: Database.Database): State {
  const s: State = new Map();
  for (const e of iterateProfiles(db)) s.set(`${e.anchor_key}\u0000${e.companion_key}`, { count: e.count, total: e.total_seen });
  return s;
}

function anchorTotals(s: State): Map<string, number> {
  const totals = new Map<string, number>();
  for (const [key, v] of s) totals.set(key.slice(0, key.indexOf('\u0000')), v.total);
  return totals;
}

interface RunResult { lines: string[]; readyAt: number | null }

/** Starts the driver, kills it with SIGKILL after `delayMs` (counted from READY when `afterReady`). */
function runAndKill(dbPath: string, seed: number, delayMs: number, afterReady: boolean): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [driver, '--db', dbPath, '--seed', String(seed), '--flush-interval', '0.03'], {
      cwd: root, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let readyAt: number | null = null;
    const t0 = Date.now();
    const kill = () => child.kill('SIGKILL');
    if (!afterReady) setTimeout(kill, delayMs);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (readyAt === null && out.includes('READY\n')) {
        readyAt = Date.now() - t0;
        if (afterReady) setTimeout(kill, delayMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('close', (code, signal) => { // 'close': after stdout is drained
      if (signal !== 'SIGKILL') reject(new Error(`driver exited by itself (code ${code}): ${err}`));
      else resolve({ lines: out.split('\n').filter(Boolean), readyAt });
    });
  });
}

const built = fs.existsSync(path.join(root, 'dist/storage/persister.js'));
const maybe = built ? test : test.skip;
if (!built) console.warn('crash test skipped: dist/ is not built (run `npm run build` or `make test`)');

maybe(`driver: kill -9 ${DRIVER_ITERATIONS} times: integrity ok, counts exactly a flush boundary of the traffic fed`, async () => {
  const dir = tempDir('sensor-crash-');
  const dbPath = path.join(dir, 'sensor.db');
  const pick = rng(20240501);
  let prev: State = new Map();
  let midFlushKills = 0;
  let startupKills = 0;
  let flushesSeen = 0;
  let maxJournal = 0;
  try {
    for (let k = 1; k <= DRIVER_ITERATIONS; k++) {
      const early = pick() < 0.1; // one kill in ten lands in start-up (open, recovery, load)
      const run = await runAndKill(dbPath, k, early ? Math.floor(pick() * 150) : Math.floor(pick() * 300), !early);
      const last = run.lines[run.lines.length - 1] ?? '';
      if (process.env.CRASH_DEBUG) console.log(k, run.readyAt, run.lines.join(' '));
      if (run.readyAt === null) startupKills++;
      if (last.startsWith('S ')) midFlushKills++;
      const committed = run.lines.filter((l) => l.startsWith('F ')).map((l) => Number(l.slice(2)));
      flushesSeen += committed.length;
      const lastCommitted = committed.length ? committed[committed.length - 1]! : 0;

      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      let now: State;
      try {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        now = readState(db);
        const j = (db.prepare('SELECT COUNT(*) AS n FROM profile_journal').get() as { n: number }).n;
        maxJournal = Math.max(maxJournal, j);
      } finally {
        db.close();
      }

      // The change since the previous run: never negative, and exactly a prefix of this run's traffic.
      const diff = new Map<string, number>();
      let m = 0;
      for (const [key, { count }] of now) {
        const d = count - (prev.get(key)?.count ?? 0);
        if (d < 0) throw new Error(`run ${k}: ${key} went down from ${prev.get(key)!.count} to ${count}`);
        if (d > 0) diff.set(key, d);
        m += d;
      }
      for (const key of prev.keys()) if (!now.has(key)) throw new Error(`run ${k}: row ${key} was lost`);
      if (m < lastCommitted) throw new Error(`run ${k}: ${m} observations stored, but a flush of ${lastCommitted} had completed`);
      if (m % BATCH !== 0) throw new Error(`run ${k}: ${m} observations stored is not a flush boundary`);
      const expected = new Map<string, number>();
      const next = makeTraffic(k);
      for (let i = 0; i < m; i++) next((a: string, c: string) => { const key = `${a}\u0000${c}`; expected.set(key, (expected.get(key) ?? 0) + 1); });
      if (diff.size !== expected.size) throw new Error(`run ${k}: ${diff.size} rows changed, expected ${expected.size}`);
      for (const [key, d] of expected) {
        if (diff.get(key) !== d) throw new Error(`run ${k}: ${key} changed by ${diff.get(key)}, expected ${d} (doubled or lost)`);
      }
      // Anchor totals moved by exactly the anchor's observations too.
      const anchorDiff = new Map<string, number>();
      for (const [key, d] of expected) { const a = key.slice(0, key.indexOf('\u0000')); anchorDiff.set(a, (anchorDiff.get(a) ?? 0) + d); }
      const nowTotals = anchorTotals(now);
      const prevTotals = anchorTotals(prev);
      for (const [a, d] of anchorDiff) {
        const moved = (nowTotals.get(a) ?? 0) - (prevTotals.get(a) ?? 0);
        if (moved !== d) throw new Error(`run ${k}: total of ${a} moved by ${moved}, expected ${d}`);
      }
      prev = now;
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`crash test (driver): ${DRIVER_ITERATIONS} kills (${startupKills} during start-up, ${midFlushKills} in the middle of a flush), ` +
    `${flushesSeen} completed flushes checked, ${prev.size} rows at the end, journal at most ${maxJournal} rows; ` +
    'integrity ok and counts exact after every kill');
  expect(midFlushKills).toBeGreaterThan(0);
}, 600_000);

// ---------------------------------------------------------------------------------------------
// 1. The real daemon.

/** Classic little-endian pcap, split into records. */
function readPcap(file: string): { header: Buffer; records: Buffer[]; span: number } {
  const data = fs.readFileSync(file);
  if (data.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${file}: expected a little-endian microsecond pcap`);
  const records: Buffer[] = [];
  let first = -1;
  let last = 0;
  for (let off = 24; off + 16 <= data.length;) {
    const incl = data.readUInt32LE(off + 8);
    records.push(data.subarray(off, off + 16 + incl));
    const sec = data.readUInt32LE(off);
    if (first < 0) first = sec;
    last = sec;
    off += 16 + incl;
  }
  return { header: data.subarray(0, 24), records, span: last - first + 2 };
}

/**
 * Repetition `r` of the capture: timestamps moved on, and the client side of every IPv4 TCP/UDP
 * packet (the side with the higher port) given another port and address, so each repetition is
 * new flows from one of 40 clients.
 */
function repetition(pcap: ReturnType<typeof readPcap>, r: number): Buffer {
  const out = Buffer.concat(pcap.records);
  for (let off = 0; off + 16 <= out.length;) {
    const incl = out.readUInt32LE(off + 8);
    out.writeUInt32LE(out.readUInt32LE(off) + r * pcap.span, off);
    const eth = off + 16;
    if (incl >= 34 && out.readUInt16BE(eth + 12) === 0x0800) {
      const ip = eth + 14;
      const ihl = (out[ip]! & 0x0f) * 4;
      const proto = out[ip + 9];
      if ((proto === 6 || proto === 17) && incl >= 14 + ihl + 4) {
        const l4 = ip + ihl;
        const sp = out.readUInt16BE(l4);
        const dp = out.readUInt16BE(l4 + 2);
        const clientIsSrc = sp > dp;
        const portOff = clientIsSrc ? l4 : l4 + 2;
        const port = clientIsSrc ? sp : dp;
        out.writeUInt16BE(1024 + ((port + r * 7919) % 60000), portOff);
        out[ip + (clientIsSrc ? 15 : 19)] = 10 + (r % 40);
      }
    }
    off += 16 + incl;
  }
  return out;
}

interface DaemonRun { ready: boolean; repsWritten: number; before: State | null; stderr: string }

/** Runs sensord on an endless stream and SIGKILLs it; `before` is the committed state read just before the kill. */
function runDaemonAndKill(dbPath: string, configPath: string, pcap: ReturnType<typeof readPcap>, firstRep: number,
  delayMs: number, afterReady: boolean): Promise<DaemonRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [sensord, '--read', '-', '--db', dbPath, '--config', configPath, '--flush-interval', '0.05', '-q'], {
      cwd: root, stdio: ['pipe', 'ignore', 'pipe'],
    });
    let stderr = '';
    let ready = false;
    let reps = 0;
    let dead = false;
    let before: State | null = null;
    const kill = () => {
      if (dead) return;
      try {
        const db = new Database(dbPath, { readonly: true, fileMustExist: true });
        try { before = readState(db); } finally { db.close(); }
      } catch { before = null; } // not created yet (killed during start-up)
      child.kill('SIGKILL');
    };
    const pump = () => {
      while (!dead) {
        const ok = child.stdin.write(repetition(pcap, firstRep + reps));
        reps++;
        if (!ok) { child.stdin.once('drain', pump); return; }
      }
    };
    child.stdin.on('error', () => { /* EPIPE once killed */ });
    child.stdin.write(pcap.header);
    pump();
    if (!afterReady) setTimeout(kill, delayMs);
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!ready && stderr.includes('capture started')) {
        ready = true;
        if (afterReady) setTimeout(kill, delayMs);
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      dead = true;
      if (signal !== 'SIGKILL') reject(new Error(`sensord exited by itself (code ${code}): ${stderr.slice(-2000)}`));
      else resolve({ ready, repsWritten: reps, before, stderr });
    });
  });
}

const daemonBuilt = fs.existsSync(sensord) && fs.existsSync(demoPcap);
if (!daemonBuilt) console.warn('sensord crash test skipped: dist/daemon/sensord.js (npm run build) or test/fixtures/demo.pcap is missing');
(daemonBuilt ? test : test.skip)(`sensord: kill -9 ${ITERATIONS} times: integrity ok, no committed count lost, none doubled`, async () => {
  const dir = tempDir('sensor-crash-daemon-');
  const dbPath = path.join(dir, 'sensor.db');
  const configPath = path.join(dir, 'sensor.json');
  // No write budget (it would stretch the 50 ms interval), no snapshots, no broker.
  fs.writeFileSync(configPath, JSON.stringify({ write_budget_mb_per_day: 0, snapshots: { keep: 1, interval_hours: 1000 } }));
  const pcap = readPcap(demoPcap);
  const pick = rng(4242);
  try {
    // What one repetition adds, from a clean run to the end of a single repetition.
    const one = path.join(dir, 'one.db');
    const oneRun = spawn(process.execPath, [sensord, '--read', '-', '--db', one, '--config', configPath, '-q'], { cwd: root, stdio: ['pipe', 'ignore', 'pipe'] });
    oneRun.stdin.end(Buffer.concat([pcap.header, repetition(pcap, 0)]));
    const code = await new Promise((r) => oneRun.on('close', r));
    expect(code).toBe(0);
    const perRepDb = new Database(one, { readonly: true });
    const perRep = [...iterateProfiles(perRepDb)].reduce((n, e) => n + e.count, 0);
    perRepDb.close();
    expect(perRep).toBeGreaterThan(0);

    let prev: State = new Map();
    let rep = 0;
    let startupKills = 0;
    let grew = 0;
    for (let k = 1; k <= ITERATIONS; k++) {
      const early = pick() < 0.1;
      const run = await runDaemonAndKill(dbPath, configPath, pcap, rep, early ? Math.floor(pick() * 600) : Math.floor(pick() * 400), !early);
      rep += run.repsWritten;
      if (!run.ready) startupKills++;
      if (!fs.existsSync(dbPath)) continue; // killed before the database was created
      const db = new Database(dbPath, { readonly: true, fileMustExist: true });
      let now: State;
      try {
        expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
        now = readState(db);
      } finally {
        db.close();
      }
      for (const [key, v] of prev) {
        const c = now.get(key)?.count ?? 0;
        if (c < v.count) throw new Error(`run ${k}: ${key} went down from ${v.count} to ${c}`);
      }
      for (const [key, v] of run.before ?? new Map()) {
        const c = now.get(key)?.count ?? 0;
        if (c < v.count) throw new Error(`run ${k}: ${key} was ${v.count} before the kill, ${c} after: a committed flush was lost`);
      }
      const sum = (s: State) => { let n = 0; for (const v of s.values()) n += v.count; return n; };
      const added = sum(now) - sum(prev);
      if (added > run.repsWritten * perRep) {
        throw new Error(`run ${k}: counts grew by ${added}, but the ${run.repsWritten} repetitions written can add at most ${run.repsWritten * perRep}`);
      }
      if (added > 0) grew++;
      prev = now;
    }
    console.log(`crash test (sensord): ${ITERATIONS} kills (${startupKills} before capture started), ${grew} runs added counts, ` +
      `${rep} capture repetitions written, ${prev.size} rows at the end; integrity ok, nothing committed lost, nothing doubled`);
    expect(grew).toBeGreaterThan(ITERATIONS / 4);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 900_000);
