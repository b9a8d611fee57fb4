#!/usr/bin/env node
/**
 * Stand-in for sensord in the crash test while the daemon is not built: opens the database the
 * way the daemon does (recovery, migration, load), feeds traffic-like observations as fast as it
 * can, and flushes every --flush-interval seconds through the real Persister. On stdout it writes
 * "S <n>" before each flush and "F <n>" after a committed one, n being the observations fed so far.
 *   node test/storage/crash-driver.mjs --db PATH --seed N --flush-interval S
 */
import fs from 'node:fs';
import { BehaviorProfiler } from '../../dist/anomaly/profiler.js';
import { openSensorDb } from '../../dist/storage/db.js';
import { loadProfiles } from '../../dist/storage/profiles.js';
import { Persister } from '../../dist/storage/persister.js';
import { makeTraffic, ANCHORS, COMPANIONS } from './traffic.mjs';

const args = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const dbPath = arg('db');
const seed = Number(arg('seed', '1'));
const intervalMs = Number(arg('flush-interval', '0.05')) * 1000;
const say = (line) => fs.writeSync(1, line + '\n');

const store = openSensorDb(dbPath, { log: (level, msg) => process.stderr.write(`${level}: ${msg}\n`) });
const profiler = new BehaviorProfiler({ maxAnchors: ANCHORS * 2, maxCompanionsPerAnchor: COMPANIONS * 2 });
loadProfiles(store.db, profiler);
// A small journal threshold, so compactions happen (and get killed) too.
const persister = new Persister(store, profiler, { snapshotIntervalMs: 0, compactMinRows: 3000, compactRatio: 0.5, writeBudgetMbPerDay: 0 });
say('READY');

const next = makeTraffic(seed);
let fed = 0;
let lastFlush = Date.now();
const observe = (a, c) => { profiler.observe(a, c, Date.now()); };

function work() {
  for (let i = 0; i < 200; i++) next(observe);
  fed += 200;
  if (Date.now() - lastFlush >= intervalMs) {
    say(`S ${fed}`);
    const report = persister.flushNow('timer');
    if (report.ok) say(`F ${fed}`);
    lastFlush = Date.now();
  }
  setImmediate(work);
}
work();
