/** The durable outbox on a real SQLite file: order, durability, batching, bounds, failure. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AlertOutbox, type OutboxEntry } from '../../src/mqtt/outbox.js';
import { openSensorDb } from '../helpers/mqtt-fixtures.js';

let dir: string;
let path: string;
let db: Database.Database;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ja4-outbox-'));
  path = join(dir, 'sensor.db');
  db = openSensorDb(path);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

const BIG = { maxRows: 1_000_000, maxAgeMs: 1e12 };
/** What another process would find in the file right now. */
function onDisk(): string[] {
  const other = new Database(path, { readonly: true });
  try {
    return other.prepare('SELECT payload FROM alert_outbox ORDER BY id').pluck().all() as string[];
  } finally {
    other.close();
  }
}

test('alerts below high are staged: nothing is written until flush, and one flush is one transaction', () => {
  const ob = new AlertOutbox(db, BIG);
  for (let i = 0; i < 50; i++) ob.add(`m${i}`, i % 2 ? 'low' : 'medium');
  expect(onDisk()).toEqual([]);
  expect(ob.counters()).toMatchObject({ pending: 50, writes: 0 });
  ob.flush();
  expect(onDisk()).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
  expect(ob.counters()).toMatchObject({ pending: 50, writes: 1, rowsWritten: 50 });
  ob.flush(); // nothing to do: no write at all
  expect(ob.counters().writes).toBe(1);
});

test('severity high is on disk before add() returns, together with everything staged before it', () => {
  const ob = new AlertOutbox(db, BIG);
  ob.add('a', 'low');
  ob.add('b', 'medium');
  expect(onDisk()).toEqual([]);
  ob.add('c', 'high');
  expect(onDisk()).toEqual(['a', 'b', 'c']);
  ob.add('d', 'info');
  ob.add('e', 'critical');
  ob.add('f', 'something-new'); // unknown severity: treated as high
  expect(onDisk()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
});

test('alerts acknowledged before the flush never touch the flash; delivered rows are deleted in one batch', () => {
  const ob = new AlertOutbox(db, BIG);
  for (let i = 0; i < 10; i++) ob.add(`s${i}`, 'medium');
  for (const e of ob.take(10)) ob.ack(e);
  ob.flush();
  expect(ob.counters()).toMatchObject({ pending: 0, writes: 0, rowsWritten: 0, neverWritten: 10 });

  for (let i = 0; i < 100; i++) ob.add(`r${i}`, 'medium');
  ob.flush(); // written (say the broker was down)
  const taken = ob.take(1000);
  expect(taken.map((e) => e.payload)).toEqual(Array.from({ length: 100 }, (_, i) => `r${i}`));
  for (const e of taken) ob.ack(e);
  expect(onDisk()).toHaveLength(100); // deletes wait for the next write...
  ob.flush(); // ...and are one transaction
  expect(onDisk()).toEqual([]);
  expect(ob.counters()).toMatchObject({ pending: 0, writes: 2 });
});

test('random interleavings of add/take/ack/flush keep order, hand out each alert once, and lose nothing', () => {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const severities = ['info', 'low', 'medium', 'medium', 'medium', 'high'];
  const ob = new AlertOutbox(db, { ...BIG, stageLimit: 37 });
  const added: string[] = [];
  const taken: OutboxEntry[] = [];
  const unacked: OutboxEntry[] = [];
  const acked = new Set<string>();

  for (let step = 0; step < 3000; step++) {
    const r = rand();
    if (r < 0.45) {
      const p = `p${added.length}`;
      added.push(p);
      ob.add(p, severities[Math.floor(rand() * severities.length)]!);
    } else if (r < 0.7) {
      const got = ob.take(1 + Math.floor(rand() * 8));
      taken.push(...got);
      unacked.push(...got);
    } else if (r < 0.95) {
      // Mostly in order, sometimes out of order, as PUBACKs may come.
      const i = rand() < 0.8 ? 0 : Math.floor(rand() * unacked.length);
      const e = unacked.splice(i, 1)[0];
      if (e) (ob.ack(e), acked.add(e.payload));
    } else {
      ob.flush();
    }
    expect(taken.length).toBeLessThanOrEqual(added.length);
  }
  expect(taken.map((e) => e.payload)).toEqual(added.slice(0, taken.length)); // once each, in order
  expect(ob.counters().pending).toBe(added.length - acked.size);
  ob.flush();
  const remaining = added.filter((p) => !acked.has(p));
  expect(onDisk()).toEqual(remaining);

  // A restart (a new outbox on the same file) hands out exactly what was not acknowledged, in order.
  const again = new AlertOutbox(db, BIG);
  expect(again.take(1_000_000).map((e) => e.payload)).toEqual(remaining);
});

test('bounded by rows: the oldest go first and are counted as dropped', () => {
  const ob = new AlertOutbox(db, { maxRows: 10, maxAgeMs: 1e12 });
  for (let i = 0; i < 25; i++) ob.add(`x${i}`, 'medium'); // staging never exceeds max rows either
  ob.flush();
  expect(onDisk()).toEqual(Array.from({ length: 10 }, (_, i) => `x${i + 15}`));
  expect(ob.counters()).toMatchObject({ pending: 10, dropped: 15 });
  expect(ob.take(100).map((e) => e.payload)).toEqual(onDisk());
});

test('bounded by age: rows older than max age are dropped at the next flush', () => {
  let now = 1_000_000;
  const ob = new AlertOutbox(db, { maxRows: 1000, maxAgeMs: 60_000, now: () => now });
  ob.add('old1', 'high');
  ob.add('old2', 'high');
  now += 30_000;
  ob.add('new1', 'high');
  now += 45_000; // old ones are 75 s old, new1 45 s
  expect(ob.flush()).toBe(2);
  expect(onDisk()).toEqual(['new1']);
  expect(ob.counters().dropped).toBe(2);
});

test('an alert storm beyond the stage limit is written early, so memory stays bounded', () => {
  const ob = new AlertOutbox(db, { ...BIG, stageLimit: 100 });
  for (let i = 0; i < 250; i++) ob.add(`z${i}`, 'low');
  expect(onDisk()).toHaveLength(200);
  expect(ob.counters().writes).toBe(2);
});

test('a full disk keeps alerts staged and in order; they are written once space returns', () => {
  const ob = new AlertOutbox(db, BIG);
  ob.add('before', 'high');
  const pageCount = db.pragma('page_count', { simple: true }) as number;
  db.pragma(`max_page_count = ${pageCount}`); // the database cannot grow: SQLITE_FULL
  const big = 'y'.repeat(64 * 1024);
  ob.add('staged', 'medium');
  expect(() => ob.add(big, 'high')).toThrow(/full/i);
  expect(onDisk()).toEqual(['before']);
  expect(ob.counters().pending).toBe(3);

  db.pragma('max_page_count = 1073741823');
  ob.flush();
  expect(onDisk()).toEqual(['before', 'staged', big]);
  expect(ob.take(10).map((e) => e.payload)).toEqual(['before', 'staged', big]);
});
