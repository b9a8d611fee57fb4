/**
 * Reading a sensor database out: profile export (JSON lines or CSV, streaming), verified online
 * backups, stored alerts, one anchor's companions, and facts for `sensorctl status`.
 *
 * Everything here reads the sensor's own database through a read-only connection, so it runs
 * beside a live daemon (WAL: readers never block its flush).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { BehaviorProfileEntry } from '../anomaly/profiler.js';
import { getMeta, quickCheck } from './db.js';
import { LATEST_SCHEMA_VERSION, schemaVersionOf } from './migrations.js';
import { trackTemporary } from './temp-files.js';

// ---------------------------------------------------------------- profile export

export interface ExportFilter {
  /** Only anchors whose key starts with this. */
  anchorPrefix?: string;
  /** Only rows updated at or after this (ms). Totals still count every row of the anchor. */
  since?: number;
}

/** Upper bound of a prefix range: any string starting with `prefix` sorts below it. */
function prefixEnd(prefix: string): string {
  return `${prefix}\u{10FFFF}`;
}

function journalEmpty(db: Database.Database): boolean {
  return db.prepare('SELECT 1 FROM profile_journal LIMIT 1').get() === undefined;
}

type Raw = [string, string, number, number, number];

/**
 * Current profile rows (base ⊕ journal) in (anchor, companion) order, `total_seen` the anchor's
 * total on every row. Memory stays constant: with an empty journal the base table is read in key
 * order and each anchor's total is taken over its rows as they pass (one anchor held at a time);
 * otherwise the merged view is read and SQLite sorts within its own bounded memory.
 */
export function* exportRows(db: Database.Database, filter: ExportFilter = {}): IterableIterator<BehaviorProfileEntry> {
  const params: unknown[] = [];
  let where = '';
  if (filter.anchorPrefix) {
    where = 'WHERE anchor_key >= ? AND anchor_key < ?';
    params.push(filter.anchorPrefix, prefixEnd(filter.anchorPrefix));
  }
  const since = filter.since ?? -Infinity;
  if (!journalEmpty(db)) {
    const sql = `SELECT anchor_key, companion_key, count, total_seen, last_updated FROM behavior_profiles_current ${where}
                 ORDER BY anchor_key, companion_key`;
    for (const r of db.prepare(sql).raw(true).iterate(...params) as IterableIterator<Raw>) {
      if (r[4] >= since) yield { anchor_key: r[0], companion_key: r[1], count: r[2], total_seen: r[3], last_updated: r[4] };
    }
    return;
  }
  const stmt = db.prepare(`SELECT anchor_key, companion_key, count, total_seen, last_updated FROM behavior_profiles ${where} ORDER BY anchor_key, companion_key`).raw(true);
  let group: Raw[] = [];
  let anchor: string | null = null;
  let total = 0;
  function* emit(): IterableIterator<BehaviorProfileEntry> {
    for (const g of group) {
      if (g[4] >= since) yield { anchor_key: g[0], companion_key: g[1], count: g[2], total_seen: total, last_updated: g[4] };
    }
  }
  for (const r of stmt.iterate(...params) as IterableIterator<Raw>) {
    if (r[0] !== anchor) {
      if (group.length > 0) yield* emit();
      group = [];
      anchor = r[0];
      total = 0;
    }
    group.push(r);
    if (r[3] > total) total = r[3];
  }
  if (group.length > 0) yield* emit();
}

export type ExportFormat = 'jsonl' | 'csv';

export const CSV_HEADER = 'anchor_key,companion_key,count,total_seen,last_updated';

function csvField(s: string): string {
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatRow(e: BehaviorProfileEntry, format: ExportFormat): string {
  if (format === 'csv') return `${csvField(e.anchor_key)},${csvField(e.companion_key)},${e.count},${e.total_seen},${e.last_updated}`;
  // Field order fixed; JSON.stringify only for the strings (escaping), numbers as they are.
  return `{"anchor_key":${JSON.stringify(e.anchor_key)},"companion_key":${JSON.stringify(e.companion_key)},"count":${e.count},"total_seen":${e.total_seen},"last_updated":${e.last_updated}}`;
}

/** Somewhere to put text: writes in large chunks, waits when the other end is slow. */
export interface TextSink {
  write(s: string): void | Promise<void>;
  end(): Promise<void>;
}

/** Writes the export to `sink`; returns the number of rows. Awaits the sink every 64 KiB (constant memory). */
export async function writeExport(db: Database.Database, format: ExportFormat, filter: ExportFilter, sink: TextSink, progress?: (rows: number) => void): Promise<number> {
  let buf = format === 'csv' ? `${CSV_HEADER}\n` : '';
  let rows = 0;
  for (const e of exportRows(db, filter)) {
    buf += formatRow(e, format);
    buf += '\n';
    rows++;
    if (buf.length >= 65536) {
      const w = sink.write(buf);
      buf = '';
      if (w) await w;
      progress?.(rows);
    }
  }
  if (buf.length > 0) {
    const w = sink.write(buf);
    if (w) await w;
  }
  await sink.end();
  return rows;
}

/** A file written through a temporary name and renamed into place once complete and fsynced. */
export class AtomicFileSink implements TextSink {
  private readonly tmp: string;
  private fd: number;
  private readonly forgetTemporary: () => void;

  constructor(readonly file: string) {
    const dir = path.dirname(path.resolve(file));
    this.tmp = path.join(dir, `.${path.basename(file)}.tmp-${process.pid}`);
    this.forgetTemporary = trackTemporary(this.tmp);
    this.fd = fs.openSync(this.tmp, 'w', 0o644);
    // Replacing a file keeps its permissions (an export holds addresses; a 0600 file stays 0600)
    // and, where we may, its owner.
    const old = fs.statSync(file, { throwIfNoEntry: false });
    if (old) {
      fs.fchmodSync(this.fd, old.mode & 0o777);
      if (process.getuid?.() === 0) fs.fchownSync(this.fd, old.uid, old.gid);
    }
  }

  write(s: string): void {
    const b = Buffer.from(s);
    let off = 0;
    while (off < b.length) off += fs.writeSync(this.fd, b, off, b.length - off);
  }

  async end(): Promise<void> {
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = -1;
    fs.renameSync(this.tmp, this.file);
    this.forgetTemporary();
    fsyncDir(path.dirname(path.resolve(this.file)));
  }

  /** Removes the temporary file (after a failure). */
  abort(): void {
    if (this.fd >= 0) {
      try { fs.closeSync(this.fd); } catch { /* closed */ }
      this.fd = -1;
    }
    fs.rmSync(this.tmp, { force: true });
    this.forgetTemporary();
  }
}

/** A stream such as stdout; waits for 'drain' when it is full. */
export class StreamSink implements TextSink {
  constructor(private readonly stream: NodeJS.WritableStream) {}

  write(s: string): void | Promise<void> {
    if (this.stream.write(s)) return;
    return new Promise<void>((resolve, reject) => {
      const onDrain = () => { cleanup(); resolve(); };
      const onError = (err: Error) => { cleanup(); reject(err); };
      const cleanup = () => { this.stream.off('drain', onDrain); this.stream.off('error', onError); };
      this.stream.once('drain', onDrain);
      this.stream.once('error', onError);
    });
  }

  async end(): Promise<void> {
    await new Promise<void>((resolve) => {
      if (this.stream.write('')) resolve();
      else this.stream.once('drain', () => resolve());
    });
  }
}

export function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  } catch { /* not every filesystem allows it; the rename is atomic anyway */ }
}

// ---------------------------------------------------------------- backup

export interface BackupResult {
  path: string;
  bytes: number;
  profileRows: number;
  journalRows: number;
  alerts: number;
  schemaVersion: number;
  sensorId: string;
  check: string;
  ms: number;
}

export class BackupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BackupError';
  }
}

/**
 * Copies the database at `src` (opened read-only, so a running daemon keeps writing) to `dest`
 * with SQLite's online backup API. The copy is written under a temporary name, switched to
 * rollback-journal mode (one self-contained file, readable from read-only media), verified —
 * quick_check, schema version, sensor id, row counts readable — fsynced, and only then renamed
 * to `dest`. A failed copy leaves nothing under `dest`.
 */
export async function backupDatabase(src: Database.Database, dest: string): Promise<BackupResult> {
  const t0 = performance.now();
  const dir = path.dirname(path.resolve(dest));
  const tmp = path.join(dir, `.${path.basename(dest)}.tmp-${process.pid}`);
  fs.rmSync(tmp, { force: true });
  const temporaries = [tmp, `${tmp}-journal`, `${tmp}-wal`, `${tmp}-shm`].map(trackTemporary);
  let copy: Database.Database | null = null;
  try {
    await src.backup(tmp);
    copy = new Database(tmp, { fileMustExist: true });
    copy.pragma('journal_mode = DELETE');
    const check = quickCheck(copy);
    if (check !== 'ok') throw new BackupError(`the copy failed its check (${check}); nothing written to ${dest}`);
    const version = schemaVersionOf(copy);
    const srcVersion = schemaVersionOf(src);
    if (version !== srcVersion) throw new BackupError(`the copy has schema version ${version}, the database ${srcVersion}; nothing written to ${dest}`);
    const sensorId = getMeta(copy, 'sensor_id') ?? '';
    if (sensorId !== (getMeta(src, 'sensor_id') ?? '')) throw new BackupError(`the copy's sensor id differs from the database's; nothing written to ${dest}`);
    const count = (t: string) => (copy!.prepare(`SELECT COUNT(*) AS n FROM ${t}`).get() as { n: number }).n;
    const profileRows = count('behavior_profiles');
    const journalRows = count('profile_journal');
    const alerts = count('alerts');
    copy.close();
    copy = null;
    const fd = fs.openSync(tmp, 'r+');
    try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
    const bytes = fs.statSync(tmp).size;
    // A -wal or hot -journal left beside DEST (by an earlier database there) would be replayed
    // into the new file when it is opened: the copy is self-contained, they go first.
    for (const f of [`${dest}-wal`, `${dest}-shm`, `${dest}-journal`]) fs.rmSync(f, { force: true });
    fs.renameSync(tmp, dest);
    fsyncDir(dir);
    for (const forget of temporaries) forget();
    return { path: dest, bytes, profileRows, journalRows, alerts, schemaVersion: version, sensorId, check, ms: performance.now() - t0 };
  } catch (err) {
    copy?.close();
    for (const f of [tmp, `${tmp}-journal`, `${tmp}-wal`, `${tmp}-shm`]) fs.rmSync(f, { force: true });
    for (const forget of temporaries) forget();
    throw err;
  }
}

// ---------------------------------------------------------------- alerts

export interface StoredAlert {
  id: number;
  created_at: number;
  severity: string;
  kind: string;
  anchor: string;
  companion: string;
  payload: string;
}

export interface AlertQuery {
  since?: number;
  kind?: string;
  limit: number;
}

/** The newest `limit` alerts matching, oldest first. */
export function queryAlerts(db: Database.Database, q: AlertQuery): StoredAlert[] {
  const where: string[] = [];
  const params: unknown[] = [];
  if (q.since !== undefined) {
    where.push('created_at >= ?');
    params.push(q.since);
  }
  if (q.kind) {
    where.push('kind = ?');
    params.push(q.kind);
  }
  params.push(q.limit);
  const rows = db.prepare(
    `SELECT id, created_at, severity, kind, anchor, companion, payload FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`,
  ).all(...params) as StoredAlert[];
  return rows.reverse();
}

// ---------------------------------------------------------------- profiles of one anchor

export interface AnchorSummary {
  anchor_key: string;
  total_seen: number;
  companions: number;
  last_updated: number;
}

/** Anchors whose key is `key`, or — when `key` names no pair (no '>') — whose value is `key` in any pair. */
export function findAnchors(db: Database.Database, key: string): string[] {
  if (key.includes('>')) {
    const hit = db.prepare('SELECT 1 FROM behavior_profiles_current WHERE anchor_key = ? LIMIT 1').get(key);
    return hit ? [key] : [];
  }
  return (db.prepare("SELECT DISTINCT anchor_key FROM behavior_profiles_current WHERE substr(anchor_key, instr(anchor_key, ':') + 1) = ? ORDER BY anchor_key").all(key) as { anchor_key: string }[])
    .map((r) => r.anchor_key);
}

/** One anchor's companions, most frequent first (at most `top`). */
export function anchorCompanions(db: Database.Database, anchor: string, top: number): BehaviorProfileEntry[] {
  return db.prepare(
    'SELECT anchor_key, companion_key, count, total_seen, last_updated FROM behavior_profiles_current WHERE anchor_key = ? ORDER BY count DESC, companion_key LIMIT ?',
  ).all(anchor, top) as BehaviorProfileEntry[];
}

export function anchorCompanionCount(db: Database.Database, anchor: string): number {
  return (db.prepare('SELECT COUNT(*) AS n FROM behavior_profiles_current WHERE anchor_key = ?').get(anchor) as { n: number }).n;
}

/** The anchors seen most often (optionally only those starting with `prefix`). */
export function topAnchors(db: Database.Database, top: number, prefix?: string): AnchorSummary[] {
  const where = prefix ? 'WHERE anchor_key >= ? AND anchor_key < ?' : '';
  const params: unknown[] = prefix ? [prefix, prefixEnd(prefix), top] : [top];
  return db.prepare(
    `SELECT anchor_key, MAX(total_seen) AS total_seen, COUNT(*) AS companions, MAX(last_updated) AS last_updated
     FROM behavior_profiles_current ${where} GROUP BY anchor_key ORDER BY total_seen DESC, anchor_key LIMIT ?`,
  ).all(...params) as AnchorSummary[];
}

// ---------------------------------------------------------------- facts for status

export interface DbFacts {
  path: string;
  bytes: number;
  walBytes: number;
  schemaVersion: number;
  latestSchemaVersion: number;
  sensorId: string | null;
  createdAt: number | null;
  profileRows: number;
  anchors: number;
  journalRows: number;
  alerts: number;
  lastAlertAt: number | null;
  seedsApplied: number;
  /** Last change of the database files on disk (ms): the last flush when the daemon is not running. */
  lastWriteAt: number;
}

export function dbFacts(db: Database.Database, file: string): DbFacts {
  const size = (f: string) => { try { return fs.statSync(f); } catch { return null; } };
  const main = size(file);
  const wal = size(`${file}-wal`);
  const one = <T>(sql: string) => db.prepare(sql).get() as T;
  const journalRows = one<{ n: number }>('SELECT COUNT(*) AS n FROM profile_journal').n;
  const counts = journalRows === 0
    ? one<{ rows: number; anchors: number }>('SELECT COUNT(*) AS rows, COUNT(DISTINCT anchor_key) AS anchors FROM behavior_profiles')
    : one<{ rows: number; anchors: number }>('SELECT COUNT(*) AS rows, COUNT(DISTINCT anchor_key) AS anchors FROM behavior_profiles_current');
  const alerts = one<{ n: number; last: number | null }>('SELECT COUNT(*) AS n, MAX(created_at) AS last FROM alerts');
  const created = getMeta(db, 'created_at');
  return {
    path: file,
    bytes: main?.size ?? 0,
    walBytes: wal?.size ?? 0,
    schemaVersion: schemaVersionOf(db),
    latestSchemaVersion: LATEST_SCHEMA_VERSION,
    sensorId: getMeta(db, 'sensor_id') ?? null,
    createdAt: created ? Number(created) : null,
    profileRows: counts.rows,
    anchors: counts.anchors,
    journalRows,
    alerts: alerts.n,
    lastAlertAt: alerts.last,
    seedsApplied: one<{ n: number }>("SELECT COUNT(*) AS n FROM seed_ledger WHERE source_digest NOT LIKE '%:%'").n,
    lastWriteAt: Math.floor(Math.max(main?.mtimeMs ?? 0, wal?.mtimeMs ?? 0)), // whole ms, like every other time in the output
  };
}
