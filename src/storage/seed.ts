/**
 * Seeding and importing profiles from untrusted sources (a backup on a USB stick, another
 * sensor's export), idempotently.
 *
 * A source is read in two passes. The first validates every row and computes a content digest;
 * nothing is written. Only a source that passed completely is applied, in the second pass, so a
 * bad source is rejected whole and the destination is untouched. The digest, together with the
 * source's sensor id, is the key of the destination's `seed_ledger`: the same source applied
 * twice is a no-op unless forced, and different sources add up.
 *
 * Untrusted SQLite files are never opened where they lie: the file is opened without following
 * a symlink, checked to be a regular file under a size limit, copied to a private temporary
 * directory (so it cannot change under us, a read-only stick needs no -shm beside it, and nothing
 * is ever written next to the source), then opened read-only with `trusted_schema=OFF` (SQL
 * `load_extension()` is never enabled by better-sqlite3, and its defensive mode is on). Only the
 * two profile tables are read, by our own SQL — never a view, trigger or anything else the file
 * defines — after their columns have been checked, and every value's type, size and range is
 * checked in SQL before any value is loaded (a key that is a 1 GB blob is rejected from its
 * length alone).
 *
 * Both sources (SQLite and JSON lines) yield the same thing: rows sorted by (anchor, companion),
 * grouped by anchor, each group carrying the anchor's total (the largest `total_seen` of its
 * rows), which is what a merge adds once per anchor.
 */
import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import Database from 'better-sqlite3';
import { MAX_COUNT, parseAnchorKey } from '../anomaly/profiler.js';
import { PAIR_FIELDS } from '../daemon/config.js';
import { LATEST_SCHEMA_VERSION } from './migrations.js';
import { EARLIEST_TIMESTAMP, FUTURE_SLACK_MS, ProfileStore } from './profiles.js';
import type { SensorDb } from './db.js';

// ---------------------------------------------------------------- errors and limits

export type SeedErrorCode = 'MISSING' | 'INVALID' | 'SAME_FILE' | 'BUSY' | 'IO';

/** A seed/import failure; `code` picks the exit code. The message is one line a person can act on. */
export class SeedError extends Error {
  constructor(readonly code: SeedErrorCode, message: string) {
    super(message);
    this.name = 'SeedError';
  }
}

export interface SourceLimits {
  /** Largest source file accepted. Default 512 MiB. */
  maxBytes: number;
  /** Most rows accepted. Default 20 million. */
  maxRows: number;
  /** Most companions one anchor may have (rows of one anchor are held in memory together). Default 100,000. */
  maxCompanionsPerAnchor: number;
  /** Newest plausible timestamp (ms); default now + 1 day. */
  latestTimestamp: number;
}

export const MAX_KEY_BYTES = 256;
/** Largest count or total accepted from a source, and where merged sums saturate. */
export { MAX_COUNT };
export { EARLIEST_TIMESTAMP };
export const DEFAULT_MAX_SOURCE_BYTES = 512 * 1024 * 1024;

export function defaultLimits(now = Date.now()): SourceLimits {
  return { maxBytes: DEFAULT_MAX_SOURCE_BYTES, maxRows: 20_000_000, maxCompanionsPerAnchor: 100_000, latestTimestamp: now + FUTURE_SLACK_MS };
}

const SENSOR_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const PAIR_FIELD_SET = new Set(PAIR_FIELDS);

// ---------------------------------------------------------------- rows, groups, sources

/** anchor_key, companion_key, count, total_seen, last_updated */
export type ProfileRow = [string, string, number, number, number];

export interface AnchorGroup {
  anchor: string;
  /** The anchor's total: the largest total_seen of its rows. */
  total: number;
  rows: ProfileRow[];
}

export interface ProfileSource {
  readonly kind: 'sqlite' | 'jsonl';
  /** The path (or '-') as the user named it. */
  readonly label: string;
  readonly sensorId: string | null;
  /** When the source database was created (its meta), which with the sensor id tells a backup of a given database; null for JSON lines. */
  readonly createdAt: number | null;
  /** sha256 of the source's bytes (with its -wal): the same file seen again is recognised without reading it. */
  readonly fileDigest: string;
  readonly schemaVersion: number | null;
  /** Rows to expect (for progress): exact for SQLite, an estimate for JSON lines. */
  readonly approxRows: number;
  /** Anchor groups in (anchor, companion) order. Can be called more than once. */
  groups(): IterableIterator<AnchorGroup>;
  close(): void;
}

/** Groups sorted rows by anchor; each group's total is the largest total_seen of its rows. */
function* groupRows(rows: Iterable<ProfileRow>, limits: SourceLimits, where: string): IterableIterator<AnchorGroup> {
  let current: AnchorGroup | null = null;
  for (const r of rows) {
    if (current !== null && r[0] === current.anchor) {
      if (current.rows.length >= limits.maxCompanionsPerAnchor) {
        throw new SeedError('INVALID', `${where}: anchor ${current.anchor} has more than ${limits.maxCompanionsPerAnchor} companions`);
      }
      current.rows.push(r);
      if (r[3] > current.total) current.total = r[3];
      continue;
    }
    if (current !== null) yield current;
    current = { anchor: r[0], total: r[3], rows: [r] };
  }
  if (current !== null) yield current;
}

// ---------------------------------------------------------------- file checks and the private copy

export interface FileCheckOptions {
  /** The destination database: a source that is the same file (by device and inode) is refused. */
  destPath?: string;
  limits: SourceLimits;
  /** Where the private copy goes. Default os.tmpdir(). */
  tmpDir?: string;
}

interface CheckedFile {
  /** The file actually opened (the symlink resolved). */
  realPath: string;
  fd: number;
  stat: fs.Stats;
}

function errnoCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
}

function sameFile(a: fs.Stats, b: fs.Stats): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

/**
 * Opens a source file safely: no FIFO/device/directory, no symlink out of its directory, no file
 * larger than the limit, never the destination itself (also via another path or a hard link).
 */
function openSourceFile(file: string, opts: FileCheckOptions, what: string): CheckedFile {
  let lst: fs.Stats;
  try {
    lst = fs.lstatSync(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') throw new SeedError('MISSING', `${what} ${file} does not exist`);
    throw new SeedError('IO', `cannot read ${what} ${file}: ${(err as Error).message}`);
  }
  let realPath = file;
  if (lst.isSymbolicLink()) {
    let target: string;
    try {
      target = fs.realpathSync(file);
    } catch {
      throw new SeedError('MISSING', `${what} ${file} is a symlink to a file that does not exist`);
    }
    const dir = fs.realpathSync(path.dirname(path.resolve(file)));
    if (!target.startsWith(dir + path.sep)) {
      throw new SeedError('INVALID', `${what} ${file} is a symlink to ${target}, outside its directory ${dir}; copy the file itself`);
    }
    realPath = target;
  }
  const pre = fs.lstatSync(realPath);
  if (!pre.isFile()) {
    const kind = pre.isFIFO() ? 'a FIFO' : pre.isCharacterDevice() || pre.isBlockDevice() ? 'a device' : pre.isDirectory() ? 'a directory' : pre.isSocket() ? 'a socket' : 'not a regular file';
    throw new SeedError('INVALID', `${what} ${file} is ${kind}, not a regular file`);
  }
  let fd: number;
  try {
    // O_NOFOLLOW: the last component must not have become a symlink since the check;
    // O_NONBLOCK: should it have become a FIFO, opening it does not hang.
    fd = fs.openSync(realPath, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    throw new SeedError(errnoCode(err) === 'ENOENT' ? 'MISSING' : 'IO', `cannot open ${what} ${file}: ${(err as Error).message}`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || !sameFile(stat, pre)) throw new SeedError('INVALID', `${what} ${file} changed while it was being checked; try again`);
    if (opts.destPath !== undefined) {
      const dest = statOrNull(opts.destPath);
      if (dest !== null && sameFile(stat, dest)) {
        throw new SeedError('SAME_FILE', `${what} ${file} is the destination database ${opts.destPath} itself; name a backup or another sensor's database`);
      }
    }
    if (stat.size === 0) throw new SeedError('INVALID', `${what} ${file} is empty`);
    if (stat.size > opts.limits.maxBytes) {
      throw new SeedError('INVALID', `${what} ${file} is ${stat.size} bytes, more than the limit of ${opts.limits.maxBytes} (raise it with --max-size if the file is genuine)`);
    }
    return { realPath, fd, stat };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** Copies at most `limit` bytes from `fd` to a new file; throws when there is more. */
function copyBounded(fd: number, to: string, limit: number, what: string, hash?: Hash): number {
  const out = fs.openSync(to, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  const buf = Buffer.allocUnsafe(1 << 20);
  let total = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      if (total > limit) throw new SeedError('INVALID', `${what} grew beyond the size limit of ${limit} bytes while being read`);
      hash?.update(buf.subarray(0, n));
      let off = 0;
      while (off < n) off += fs.writeSync(out, buf, off, n - off);
    }
  } catch (err) {
    if (err instanceof SeedError) throw err;
    const code = errnoCode(err);
    if (code === 'ENOSPC') throw new SeedError('IO', `no space left for the temporary copy of ${what} in ${path.dirname(to)}; set TMPDIR to a larger filesystem`);
    throw new SeedError('IO', `cannot copy ${what}: ${(err as Error).message}`);
  } finally {
    fs.closeSync(out);
  }
  return total;
}

function makeTempDir(tmpDir: string | undefined): string {
  const base = tmpDir ?? os.tmpdir();
  try {
    return fs.mkdtempSync(path.join(base, 'sensorctl-seed-'));
  } catch (err) {
    throw new SeedError('IO', `cannot create a temporary directory in ${base}: ${(err as Error).message}`);
  }
}

// ---------------------------------------------------------------- SQLite sources

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

interface ColumnSpec { name: string; pk: number }
const BASE_COLUMNS: ColumnSpec[] = [
  { name: 'anchor_key', pk: 1 }, { name: 'companion_key', pk: 2 }, { name: 'count', pk: 0 },
  { name: 'total_seen', pk: 0 }, { name: 'last_updated', pk: 0 },
];
const JOURNAL_COLUMNS: ColumnSpec[] = [
  { name: 'seq', pk: 1 }, { name: 'op', pk: 0 }, { name: 'anchor_key', pk: 0 }, { name: 'companion_key', pk: 0 },
  { name: 'count', pk: 0 }, { name: 'total_seen', pk: 0 }, { name: 'last_updated', pk: 0 },
];

/** SQL that is true for a key that is not short text; never loads a long value (octet_length reads the record header only). */
function badKeySize(col: string): string {
  return `(typeof(${col}) != 'text' OR octet_length(${col}) > ${MAX_KEY_BYTES})`;
}

/** The same, plus characters outside printable ASCII (GLOB is slow: used only to explain a rejection). */
function badKey(col: string): string {
  return `(${badKeySize(col)} OR ${col} GLOB '*[^ -~]*')`;
}

/** A key (or key part) with a character outside printable ASCII. */
const NON_PRINTABLE = /[^\x20-\x7e]/;

/** SQL selecting a key only when it is short text (NULL otherwise), so a huge value is never loaded. */
function guardedKey(col: string): string {
  return `CASE WHEN typeof(${col}) = 'text' AND octet_length(${col}) <= ${MAX_KEY_BYTES} THEN ${col} END`;
}

function guardedInt(col: string): string {
  return `CASE WHEN typeof(${col}) = 'integer' THEN ${col} END`;
}

function badNumbers(limits: SourceLimits): string {
  return `(typeof(count) != 'integer' OR count < 0 OR count > ${MAX_COUNT}
    OR typeof(total_seen) != 'integer' OR total_seen < count OR total_seen > ${MAX_COUNT}
    OR typeof(last_updated) != 'integer' OR last_updated < ${EARLIEST_TIMESTAMP} OR last_updated > ${Math.floor(limits.latestTimestamp)})`;
}

/** Which rule a bad row broke, from values fetched without loading long ones. */
function describeBadRow(r: Record<string, unknown>, limits: SourceLimits, table: string): string {
  const keyProblem = (name: string): string | null => {
    const t = r[`${name}_type`];
    if (t !== 'text') return `${name} is ${t === 'blob' ? 'a blob' : t === 'null' ? 'NULL' : `of type ${String(t)}`}, not text`;
    const len = Number(r[`${name}_len`]);
    if (len > MAX_KEY_BYTES) return `${name} is ${len} bytes long (limit ${MAX_KEY_BYTES})`;
    return `${name} ${JSON.stringify(r[name])} has characters outside printable ASCII`;
  };
  const row = r.anchor_ok ? ` (anchor ${JSON.stringify(r.anchor_key)})` : '';
  for (const k of ['anchor_key', 'companion_key']) {
    if (r[`${k}_bad`]) return `${table}: ${keyProblem(k)}${k === 'anchor_key' ? '' : row}`;
  }
  if (r.op_bad) return `${table}: a row has an unknown op ${JSON.stringify(r.op)}${row}`;
  const num = (name: string) => (r[`${name}_type`] === 'integer' ? Number(r[name]) : null);
  const count = num('count');
  const total = num('total_seen');
  const updated = num('last_updated');
  const where = `${table}${row}`;
  if (count === null) return `${where}: count is of type ${String(r.count_type)}, not an integer`;
  if (count < 0) return `${where}: negative count ${count}`;
  if (count > MAX_COUNT) return `${where}: count ${count} is out of range (max ${MAX_COUNT})`;
  if (total === null) return `${where}: total_seen is of type ${String(r.total_seen_type)}, not an integer`;
  if (total < count) return `${where}: count ${count} is larger than total_seen ${total}`;
  if (total > MAX_COUNT) return `${where}: total_seen ${total} is out of range (max ${MAX_COUNT})`;
  if (updated === null) return `${where}: last_updated is of type ${String(r.last_updated_type)}, not an integer (ms since the epoch)`;
  if (updated < EARLIEST_TIMESTAMP) return `${where}: last_updated ${updated} is before 2000-01-01 (not ms since the epoch?)`;
  return `${where}: last_updated ${new Date(updated).toISOString()} is in the future (after ${new Date(limits.latestTimestamp).toISOString()})`;
}

function badRowProbe(table: string, where: string, limits: SourceLimits, hasOp: boolean): string {
  const key = (c: string) =>
    `typeof(${c}) AS ${c}_type, octet_length(${c}) AS ${c}_len, ${badKey(c)} AS ${c}_bad, ` +
    `CASE WHEN typeof(${c}) = 'text' AND octet_length(${c}) <= ${MAX_KEY_BYTES} THEN ${c} END AS ${c}`;
  const num = (c: string) => `typeof(${c}) AS ${c}_type, CASE WHEN typeof(${c}) = 'integer' THEN ${c} END AS ${c}`;
  const op = hasOp ? `, CASE WHEN typeof(op) = 'integer' THEN op END AS op, (typeof(op) != 'integer' OR op NOT IN (0, 1, 2)) AS op_bad` : '';
  return `SELECT ${key('anchor_key')}, ${key('companion_key')}, NOT ${badKey('anchor_key')} AS anchor_ok,
    ${num('count')}, ${num('total_seen')}, ${num('last_updated')}${op}
    FROM ${table} WHERE ${where} LIMIT 1`;
}

interface TableInfoRow { name: string; pk: number; hidden: number }

function checkTable(db: Database.Database, name: string, columns: ColumnSpec[], label: string): void {
  const row = db.prepare("SELECT type, sql FROM sqlite_schema WHERE name = ? COLLATE NOCASE").get(name) as { type: string; sql: string | null } | undefined;
  if (row === undefined) throw new SeedError('INVALID', `${label} is not a sensor database: it has no ${name} table`);
  if (row.type !== 'table' || row.sql === null || /^\s*CREATE\s+VIRTUAL/i.test(row.sql)) {
    throw new SeedError('INVALID', `${label}: ${name} is a ${row.type === 'table' ? 'virtual table' : row.type}, not a plain table; refusing a database built to run code when read`);
  }
  const info = db.prepare(`SELECT name, pk, hidden FROM pragma_table_xinfo(?)`).all(name) as TableInfoRow[];
  const ok = info.length === columns.length && info.every((c, i) => c.name === columns[i]!.name && c.pk === columns[i]!.pk && c.hidden === 0);
  if (!ok) {
    throw new SeedError('INVALID', `${label}: table ${name} does not have the sensor's columns (${columns.map((c) => c.name).join(', ')}); ` +
      `found ${info.map((c) => c.name + (c.hidden ? ' (generated)' : '')).join(', ')}`);
  }
}

/**
 * Base rows in key order. Every value is guarded: a key that is not short text, or a number that
 * is not an integer, comes back as NULL (and is rejected) without ever being loaded.
 */
const BASE_ROWS_SQL =
  `SELECT ${guardedKey('anchor_key')}, ${guardedKey('companion_key')}, ${guardedInt('count')}, ${guardedInt('total_seen')}, ${guardedInt('last_updated')}
   FROM behavior_profiles ORDER BY anchor_key COLLATE BINARY, companion_key COLLATE BINARY`;

/** The same merge of base and journal as the `behavior_profiles_current` view, in our own SQL. */
const MERGED_ROWS_SQL = `
  WITH ops AS (
    SELECT anchor_key, companion_key, count, total_seen, last_updated, 0 AS op, 0 AS seq FROM behavior_profiles
    UNION ALL
    SELECT anchor_key, companion_key, count, total_seen, last_updated, op, seq FROM profile_journal WHERE op < 2
  ),
  anchor_cut AS (SELECT anchor_key, MAX(seq) AS cut FROM profile_journal WHERE op = 2 GROUP BY anchor_key),
  latest AS (
    SELECT ops.*, ROW_NUMBER() OVER (PARTITION BY anchor_key, companion_key ORDER BY seq DESC) AS rn FROM ops
  )
  SELECT l.anchor_key, l.companion_key, l.count, l.total_seen, l.last_updated
  FROM latest l LEFT JOIN anchor_cut c ON c.anchor_key = l.anchor_key
  WHERE l.rn = 1 AND l.op = 0 AND (c.cut IS NULL OR l.seq > c.cut)
  ORDER BY l.anchor_key COLLATE BINARY, l.companion_key COLLATE BINARY`;

class SqliteSource implements ProfileSource {
  readonly kind = 'sqlite' as const;
  constructor(
    readonly label: string,
    private readonly db: Database.Database,
    private readonly tmp: string,
    private readonly limits: SourceLimits,
    readonly sensorId: string | null,
    readonly createdAt: number | null,
    readonly fileDigest: string,
    readonly schemaVersion: number,
    readonly approxRows: number,
    private readonly journalRows: number,
  ) {}

  /** Rows with every value checked (types, ranges, characters); the first bad one rejects the source. */
  private *rows(): IterableIterator<ProfileRow> {
    const stmt = this.db.prepare(this.journalRows > 0 ? MERGED_ROWS_SQL : BASE_ROWS_SQL).raw(true);
    const latest = this.limits.latestTimestamp;
    let anchor = '';
    for (const r of stmt.iterate() as IterableIterator<(string | number | null)[]>) {
      const a = r[0] as string | null;
      const c = r[1] as string | null;
      const count = r[2] as number | null;
      const total = r[3] as number | null;
      const updated = r[4] as number | null;
      if (a === null || c === null || count === null || total === null || updated === null ||
          count < 0 || count > MAX_COUNT || total < count || total > MAX_COUNT || updated < EARLIEST_TIMESTAMP || updated > latest ||
          (a !== anchor && NON_PRINTABLE.test(a)) || NON_PRINTABLE.test(c)) {
        throw this.explainRejection();
      }
      anchor = a;
      yield r as ProfileRow;
    }
  }

  /** Finds and describes the first bad row (with the slow, exact SQL checks). */
  private explainRejection(): SeedError {
    const limits = this.limits;
    for (const [table, where, hasOp] of [
      ['behavior_profiles', `${badKey('anchor_key')} OR ${badKey('companion_key')} OR ${badNumbers(limits)}`, false],
      ['profile_journal', `op = 0 AND (${badKey('anchor_key')} OR ${badKey('companion_key')} OR ${badNumbers(limits)})`, true],
    ] as const) {
      const r = this.db.prepare(badRowProbe(table, where, limits, hasOp)).get() as Record<string, unknown> | undefined;
      if (r) return new SeedError('INVALID', `source ${this.label} rejected: ${describeBadRow(r, limits, table)}`);
    }
    return new SeedError('INVALID', `source ${this.label} rejected: a row has an invalid value`);
  }

  groups(): IterableIterator<AnchorGroup> {
    return groupRows(this.rows(), this.limits, this.label);
  }

  close(): void {
    if (this.db.open) this.db.close();
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

/**
 * Opens an untrusted sensor database for reading (see the module comment for what is checked).
 * Throws SeedError; on success the caller must close() the source (it removes the private copy).
 */
export function openSqliteSource(file: string, opts: FileCheckOptions): SqliteSource {
  const label = file;
  const checked = openSourceFile(file, opts, 'source');
  let tmp: string | null = null;
  let db: Database.Database | null = null;
  try {
    const header = Buffer.alloc(16);
    const n = fs.readSync(checked.fd, header, 0, 16, 0);
    if (n < 16 || !header.equals(SQLITE_HEADER)) {
      throw new SeedError('INVALID', `source ${label} is not a SQLite database (a sensor database or a backup made by sensorctl backup is expected)`);
    }
    tmp = makeTempDir(opts.tmpDir);
    const copy = path.join(tmp, 'source.db');
    const fileHash = createHash('sha256');
    copyBounded(checked.fd, copy, opts.limits.maxBytes, `source ${label}`, fileHash);
    // Committed changes a live sensor had not yet folded into the file are in its -wal: take them too.
    const walPath = `${checked.realPath}-wal`;
    if ((statOrNull(walPath)?.size ?? 0) > 0) {
      const wal = openSourceFile(walPath, { ...opts, destPath: undefined }, 'source WAL');
      try {
        fileHash.update('\0wal\0');
        copyBounded(wal.fd, `${copy}-wal`, opts.limits.maxBytes, `source WAL ${walPath}`, fileHash);
      } finally {
        fs.closeSync(wal.fd);
      }
    }
    try {
      db = new Database(copy, { readonly: true, fileMustExist: true });
      db.pragma('trusted_schema = OFF');
      db.pragma('cell_size_check = ON');
      db.pragma('cache_size = -4096'); // 4 MiB: the rows are read once, in order
    } catch (err) {
      throw new SeedError('INVALID', `source ${label} cannot be opened as a database: ${(err as Error).message}`);
    }
    let check: string;
    try {
      check = (db.pragma('quick_check(5)') as { quick_check: string }[]).map((r) => r.quick_check).join('; ');
    } catch (err) {
      throw new SeedError('INVALID', `source ${label} is damaged: ${(err as Error).message}`);
    }
    if (check !== 'ok') throw new SeedError('INVALID', `source ${label} is damaged (quick_check: ${check.slice(0, 200)})`);

    const hasVersionTable = db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'schema_version' AND type = 'table'").get() !== undefined;
    if (!hasVersionTable) throw new SeedError('INVALID', `source ${label} is a SQLite database but not a sensor database (no schema_version table)`);
    const v = db.prepare("SELECT MAX(version) AS v, typeof(MAX(version)) AS t FROM schema_version").get() as { v: unknown; t: string };
    if (v.t !== 'integer') throw new SeedError('INVALID', `source ${label} has no valid schema version`);
    const version = Number(v.v);
    if (version > LATEST_SCHEMA_VERSION) {
      throw new SeedError('INVALID', `source ${label} has schema version ${version}, newer than this build supports (${LATEST_SCHEMA_VERSION}); upgrade the sensor software first`);
    }
    if (version < 1) throw new SeedError('INVALID', `source ${label} has an unknown schema version ${version}`);
    checkTable(db, 'behavior_profiles', BASE_COLUMNS, `source ${label}`);
    checkTable(db, 'profile_journal', JOURNAL_COLUMNS, `source ${label}`);

    const sensorId = readSourceSensorId(db, label);
    const limits = opts.limits;
    // Keys are checked for size (and numbers for type) while rows are read, the rest per row in JS.
    // With a journal, rows are merged by SQL that compares whole keys, so sizes are checked first.
    const base = (db.prepare('SELECT COUNT(*) AS n FROM behavior_profiles').get() as { n: number }).n;
    const journal = (db.prepare('SELECT COUNT(*) AS n FROM profile_journal').get() as { n: number }).n;
    if (base + journal > limits.maxRows) {
      throw new SeedError('INVALID', `source ${label} has ${base + journal} rows, more than the limit of ${limits.maxRows}`);
    }
    if (journal > 0) {
      const baseBad = `${badKeySize('anchor_key')} OR ${badKeySize('companion_key')} OR ${badNumbers(limits)}`;
      if (db.prepare(`SELECT 1 FROM behavior_profiles WHERE ${baseBad} LIMIT 1`).get() !== undefined) {
        const r = db.prepare(badRowProbe('behavior_profiles', baseBad, limits, false)).get() as Record<string, unknown>;
        throw new SeedError('INVALID', `source ${label} rejected: ${describeBadRow(r, limits, 'behavior_profiles')}`);
      }
      const journalBad = `typeof(seq) != 'integer' OR typeof(op) != 'integer' OR op NOT IN (0, 1, 2) OR ${badKeySize('anchor_key')} OR ${badKeySize('companion_key')} OR (op = 0 AND ${badNumbers(limits)})`;
      if (db.prepare(`SELECT 1 FROM profile_journal WHERE ${journalBad} LIMIT 1`).get() !== undefined) {
        const r = db.prepare(badRowProbe('profile_journal', journalBad, limits, true)).get() as Record<string, unknown>;
        throw new SeedError('INVALID', `source ${label} rejected: ${describeBadRow(r, limits, 'profile_journal')}`);
      }
    }
    return new SqliteSource(label, db, tmp, limits, sensorId, readSourceCreatedAt(db), `sqlite:${fileHash.digest('hex')}`, version, base, journal);
  } catch (err) {
    db?.close();
    if (tmp !== null) fs.rmSync(tmp, { recursive: true, force: true });
    if (err instanceof SeedError) throw err;
    throw new SeedError('INVALID', `source ${label} cannot be read as a sensor database: ${(err as Error).message}`);
  } finally {
    fs.closeSync(checked.fd);
  }
}

function readSourceSensorId(db: Database.Database, label: string): string | null {
  const meta = db.prepare("SELECT type FROM sqlite_schema WHERE name = 'meta'").get() as { type: string } | undefined;
  if (meta === undefined) return null;
  if (meta.type !== 'table') throw new SeedError('INVALID', `source ${label}: meta is a ${meta.type}, not a table`);
  const row = db.prepare("SELECT typeof(value) AS t, CASE WHEN octet_length(value) <= 64 THEN value END AS v FROM meta WHERE key = 'sensor_id'").get() as { t: string; v: unknown } | undefined;
  if (row === undefined) return null;
  if (row.t !== 'text' || typeof row.v !== 'string' || !SENSOR_ID_RE.test(row.v)) {
    throw new SeedError('INVALID', `source ${label} has an invalid sensor id in its meta table`);
  }
  return row.v;
}

/** The source's meta created_at (epoch ms), or null when absent or not a plain number (it only informs a warning). */
function readSourceCreatedAt(db: Database.Database): number | null {
  try {
    const row = db.prepare("SELECT CASE WHEN octet_length(value) <= 20 THEN value END AS v FROM meta WHERE key = 'created_at'").get() as { v: unknown } | undefined;
    const n = typeof row?.v === 'string' || typeof row?.v === 'number' ? Number(row.v) : NaN;
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- JSON-lines sources (export-profiles output)

const JSONL_FIELDS = ['anchor_key', 'companion_key', 'count', 'total_seen', 'last_updated'] as const;
const MAX_LINE_BYTES = 4096;

function isPrintableAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** Validates one parsed JSON line; returns the row or throws with the line number. */
function rowFromJson(v: unknown, lineNo: number, label: string, limits: SourceLimits): ProfileRow {
  const where = `${label} line ${lineNo}`;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new SeedError('INVALID', `${where}: not a JSON object`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!(JSONL_FIELDS as readonly string[]).includes(k)) throw new SeedError('INVALID', `${where}: unknown field "${k.slice(0, 40)}" (expected ${JSONL_FIELDS.join(', ')})`);
  }
  const a = o.anchor_key;
  const c = o.companion_key;
  for (const [name, s] of [['anchor_key', a], ['companion_key', c]] as const) {
    if (typeof s !== 'string') throw new SeedError('INVALID', `${where}: ${name} must be a string`);
    if (Buffer.byteLength(s) > MAX_KEY_BYTES) throw new SeedError('INVALID', `${where}: ${name} is longer than ${MAX_KEY_BYTES} bytes`);
    if (!isPrintableAscii(s)) throw new SeedError('INVALID', `${where}: ${name} has characters outside printable ASCII`);
  }
  const count = o.count;
  const total = o.total_seen;
  const updated = o.last_updated;
  // An integer too large for a double to hold exactly is out of range, not "not an integer".
  const int = (x: unknown) => typeof x === 'number' && Number.isInteger(x);
  if (!int(count)) throw new SeedError('INVALID', `${where}: count must be an integer`);
  if ((count as number) < 0) throw new SeedError('INVALID', `${where}: negative count ${count as number}`);
  if ((count as number) > MAX_COUNT) throw new SeedError('INVALID', `${where}: count ${count as number} is out of range (max ${MAX_COUNT})`);
  if (!int(total)) throw new SeedError('INVALID', `${where}: total_seen must be an integer`);
  if ((total as number) < (count as number)) throw new SeedError('INVALID', `${where}: count ${count as number} is larger than total_seen ${total as number}`);
  if ((total as number) > MAX_COUNT) throw new SeedError('INVALID', `${where}: total_seen ${total as number} is out of range (max ${MAX_COUNT})`);
  if (!int(updated)) throw new SeedError('INVALID', `${where}: last_updated must be an integer (ms since the epoch)`);
  if (!Number.isSafeInteger(updated)) throw new SeedError('INVALID', `${where}: last_updated ${updated as number} is out of range`);
  if ((updated as number) < EARLIEST_TIMESTAMP) throw new SeedError('INVALID', `${where}: last_updated ${updated as number} is before 2000-01-01 (not ms since the epoch?)`);
  if ((updated as number) > limits.latestTimestamp) throw new SeedError('INVALID', `${where}: last_updated ${new Date(updated as number).toISOString()} is in the future`);
  return [a as string, c as string, count as number, total as number, updated as number];
}

/** Lines of a file, read synchronously in 1 MiB chunks (the apply pass runs inside a transaction). */
function* readLines(file: string, label: string): IterableIterator<[string, number]> {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  const decoder = new StringDecoder('utf8');
  let rest = '';
  let lineNo = 0;
  try {
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      const text = n === 0 ? rest + decoder.end() : rest + decoder.write(buf.subarray(0, n));
      let start = 0;
      for (;;) {
        const nl = text.indexOf('\n', start);
        if (nl < 0) break;
        lineNo++;
        if (nl - start > MAX_LINE_BYTES) throw new SeedError('INVALID', `${label} line ${lineNo} is longer than ${MAX_LINE_BYTES} bytes`);
        yield [text.slice(start, nl), lineNo];
        start = nl + 1;
      }
      rest = text.slice(start);
      if (rest.length > MAX_LINE_BYTES) throw new SeedError('INVALID', `${label} line ${lineNo + 1} is longer than ${MAX_LINE_BYTES} bytes`);
      if (n === 0) break;
    }
    if (rest.length > 0) yield [rest, lineNo + 1];
  } finally {
    fs.closeSync(fd);
  }
}

class JsonlSource implements ProfileSource {
  readonly kind = 'jsonl' as const;
  readonly schemaVersion = null;
  readonly createdAt = null;
  constructor(
    readonly label: string,
    private readonly file: string,
    private readonly tmp: string,
    private readonly limits: SourceLimits,
    readonly sensorId: string | null,
    readonly fileDigest: string,
    readonly approxRows: number,
  ) {}

  private *rows(): IterableIterator<ProfileRow> {
    let n = 0;
    for (const [line, lineNo] of readLines(this.file, this.label)) {
      if (line.trim() === '') continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch {
        throw new SeedError('INVALID', `${this.label} line ${lineNo}: not valid JSON (export-profiles --format jsonl output is expected)`);
      }
      if (++n > this.limits.maxRows) throw new SeedError('INVALID', `${this.label} has more than ${this.limits.maxRows} rows`);
      yield rowFromJson(v, lineNo, this.label, this.limits);
    }
  }

  groups(): IterableIterator<AnchorGroup> {
    return groupRows(this.rows(), this.limits, this.label);
  }

  close(): void {
    fs.rmSync(this.tmp, { recursive: true, force: true });
  }
}

/**
 * Opens JSON lines (export-profiles output) from a file, or from a stream such as stdin ('-'),
 * which is first copied to a private file (bounded by the size limit) so it can be read twice.
 */
export async function openJsonlSource(
  file: string, opts: FileCheckOptions & { sensorId?: string | null; stdin?: NodeJS.ReadableStream },
): Promise<JsonlSource> {
  if (opts.sensorId != null && !SENSOR_ID_RE.test(opts.sensorId)) {
    throw new SeedError('INVALID', `source id ${JSON.stringify(opts.sensorId)} is not a valid sensor id (letters, digits, . _ -)`);
  }
  const tmp = makeTempDir(opts.tmpDir);
  const copy = path.join(tmp, 'source.jsonl');
  try {
    let bytes: number;
    const fileHash = createHash('sha256');
    if (file === '-') {
      bytes = await copyStreamBounded(opts.stdin ?? process.stdin, copy, opts.limits.maxBytes, fileHash);
    } else {
      const checked = openSourceFile(file, opts, 'import file');
      try {
        bytes = copyBounded(checked.fd, copy, opts.limits.maxBytes, `import file ${file}`, fileHash);
      } finally {
        fs.closeSync(checked.fd);
      }
    }
    if (bytes === 0) throw new SeedError('INVALID', `${file === '-' ? 'standard input' : file} is empty`);
    return new JsonlSource(file === '-' ? 'standard input' : file, copy, tmp, opts.limits, opts.sensorId ?? null, `jsonl:${fileHash.digest('hex')}`, Math.ceil(bytes / 150));
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

async function copyStreamBounded(stream: NodeJS.ReadableStream, to: string, limit: number, hash: Hash): Promise<number> {
  const out = fs.openSync(to, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
  let total = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      total += b.length;
      if (total > limit) throw new SeedError('INVALID', `standard input is larger than the limit of ${limit} bytes`);
      hash.update(b);
      let off = 0;
      while (off < b.length) off += fs.writeSync(out, b, off, b.length - off);
    }
  } finally {
    fs.closeSync(out);
  }
  return total;
}

// ---------------------------------------------------------------- validation and digest, as rows pass

export interface ScanResult {
  /** Ledger key: sha256 over the sensor id and every row, in canonical form. */
  digest: string;
  /** Ledger alias: sha256 of the source's bytes. */
  fileDigest: string;
  sensorId: string | null;
  rows: number;
  /** null when the source was recognised by its bytes alone and not read (the ledger keeps rows only). */
  anchors: number | null;
  /** Rows with count 0 (valid, but a merge adds nothing for them). */
  zeroRows: number;
}

export type Progress = (done: number) => void;

/**
 * Validates a source as its groups pass — order and uniqueness, anchor keys naming known fields —
 * and computes its content digest. The digest depends only on the profiles, so the same profiles
 * from another file (a newer backup of an unchanged sensor, its export) or under another
 * --source-id label are recognised; the sensor id is recorded beside it in the ledger. `finish()` after the last group.
 */
export class SourceScan {
  private readonly hash = createHash('sha256');
  private text = '';
  private rows = 0;
  private anchors = 0;
  private zeroRows = 0;
  private prevAnchor: string | null = null;

  constructor(readonly source: ProfileSource, private readonly progress?: Progress) {
    this.hash.update('ja4-sensor profiles v2\n');
  }

  *groups(): IterableIterator<AnchorGroup> {
    const source = this.source;
    for (const g of source.groups()) {
      if (this.prevAnchor !== null && !(g.anchor > this.prevAnchor)) {
        throw new SeedError('INVALID', `${source.label}: rows are not sorted by anchor_key (or an anchor appears twice): ${g.anchor} after ${this.prevAnchor}` +
          (source.kind === 'jsonl' ? '; import the output of export-profiles as it was written' : ''));
      }
      this.prevAnchor = g.anchor;
      const parsed = parseAnchorKey(g.anchor);
      if (parsed === null || !PAIR_FIELD_SET.has(parsed.pair.anchor) || !PAIR_FIELD_SET.has(parsed.pair.companion)) {
        throw new SeedError('INVALID', `${source.label}: anchor key ${JSON.stringify(g.anchor)} is not of the form <field>><field>:<value> with known fields (${PAIR_FIELDS.join(', ')})`);
      }
      this.anchors++;
      let prevCompanion: string | null = null;
      let text = this.text;
      const prefix = `${g.anchor}\t`;
      for (const r of g.rows) {
        if (prevCompanion !== null && !(r[1] > prevCompanion)) {
          throw new SeedError('INVALID', `${source.label}: companion ${JSON.stringify(r[1])} of anchor ${g.anchor} is out of order or repeated`);
        }
        prevCompanion = r[1];
        if (r[2] === 0) this.zeroRows++;
        text += `${prefix}${r[1]}\t${r[2]}\t${g.total}\t${r[4]}\n`;
      }
      this.rows += g.rows.length;
      if (text.length >= 65536) {
        this.hash.update(text);
        text = '';
        this.progress?.(this.rows);
      }
      this.text = text;
      yield g;
    }
  }

  finish(): ScanResult {
    // As an empty file is: blank lines alone are a transfer that went wrong, not an export (an
    // export of an empty sensor is empty), and must not be recorded as applied.
    if (this.rows === 0 && this.source.kind === 'jsonl') throw new SeedError('INVALID', `${this.source.label} holds no profile rows, only blank lines`);
    this.hash.update(this.text);
    this.text = '';
    this.progress?.(this.rows);
    return {
      digest: this.hash.digest('hex'), fileDigest: this.source.fileDigest, sensorId: this.source.sensorId,
      rows: this.rows, anchors: this.anchors, zeroRows: this.zeroRows,
    };
  }
}

// ---------------------------------------------------------------- the ledger

export interface LedgerEntry {
  source_digest: string;
  source_sensor_id: string | null;
  applied_at: number;
  rows: number;
}

export function ledgerLookup(db: Database.Database, digest: string): LedgerEntry | null {
  return (db.prepare('SELECT source_digest, source_sensor_id, applied_at, rows FROM seed_ledger WHERE source_digest = ?').get(digest) as LedgerEntry | undefined) ?? null;
}

/**
 * Records a source: its content digest, and its file digest as an alias (so the same file
 * offered again — a USB stick left in at every boot — is recognised from its bytes alone).
 */
export function ledgerRecord(db: Database.Database, scan: Pick<ScanResult, 'digest' | 'fileDigest' | 'sensorId' | 'rows'>, at: number, content = true): void {
  const put = db.prepare('INSERT OR REPLACE INTO seed_ledger (source_digest, source_sensor_id, applied_at, rows) VALUES (?, ?, ?, ?)');
  if (content) put.run(scan.digest, scan.sensorId, at, scan.rows);
  put.run(scan.fileDigest, scan.sensorId, at, scan.rows);
}

/** Sources applied (file aliases not counted). */
export function ledgerList(db: Database.Database): LedgerEntry[] {
  return db.prepare("SELECT source_digest, source_sensor_id, applied_at, rows FROM seed_ledger WHERE source_digest NOT LIKE '%:%' ORDER BY applied_at").all() as LedgerEntry[];
}

// ---------------------------------------------------------------- merging

export interface MergeStats {
  /** Source rows merged (count > 0). */
  rows: number;
  /** Rows the destination did not have. */
  rowsNew: number;
  /** Rows whose counts were added to existing ones. */
  rowsAdded: number;
  anchors: number;
  anchorsNew: number;
  countAdded: number;
  totalAdded: number;
  /** Rows with count 0 (nothing to add). */
  skipped: number;
}

export function emptyStats(): MergeStats {
  return { rows: 0, rowsNew: 0, rowsAdded: 0, anchors: 0, anchorsNew: 0, countAdded: 0, totalAdded: 0, skipped: 0 };
}

export interface ApplyResult {
  /** 'already': the ledger holds this source and nothing was written. */
  outcome: 'applied' | 'already' | 'dry-run';
  stats: MergeStats;
  scan: ScanResult;
  /** When outcome is 'already': when it was first applied. */
  appliedAt: number | null;
}

/** What the destination holds for one anchor: companion → [count, last_updated, total_seen], and its total. */
interface DestAnchor {
  total: number;
  rows: Map<string, [number, number, number]>;
}

type AnchorReader = (anchor: string) => DestAnchor | null;

/** Base-table reader: exact when the journal is empty (or was just folded in). */
function baseAnchorReader(db: Database.Database): AnchorReader {
  const stmt = db.prepare('SELECT companion_key, count, total_seen, last_updated FROM behavior_profiles WHERE anchor_key = ?').raw(true);
  return (anchor) => {
    const rows = stmt.all(anchor) as [string, number, number, number][];
    if (rows.length === 0) return null;
    const out: DestAnchor = { total: 0, rows: new Map() };
    for (const r of rows) {
      out.rows.set(r[0], [r[1], r[3], r[2]]);
      if (r[2] > out.total) out.total = r[2];
    }
    return out;
  };
}

/** A merged count or total: saturates at MAX_COUNT as the profiler's merge does, so it can be exported and imported again. */
function addCounts(a: number, b: number): number {
  return Math.min(MAX_COUNT, a + b);
}

type RowWriter = (isNew: boolean, anchor: string, companion: string, count: number, total: number, updated: number) => void;

/**
 * Merges one source anchor into what the destination holds for it, exactly as
 * BehaviorProfiler.merge does: counts add, last_updated takes the later, the anchor's total grows
 * once by the source's total. Rows with count 0 add nothing.
 */
function mergeGroup(g: AnchorGroup, dest: DestAnchor | null, stats: MergeStats, write: RowWriter | null, same?: { rows: number }): void {
  const destTotal = dest?.total ?? 0;
  let newTotal = -1;
  for (const r of g.rows) {
    if (r[2] === 0) {
      stats.skipped++;
      continue;
    }
    if (newTotal < 0) {
      newTotal = addCounts(destTotal, g.total);
      stats.anchors++;
      if (dest === null) stats.anchorsNew++;
      stats.totalAdded += g.total;
    }
    const existing = dest?.rows.get(r[1]);
    stats.rows++;
    stats.countAdded += r[2];
    if (existing === undefined) {
      stats.rowsNew++;
      write?.(true, g.anchor, r[1], r[2], newTotal, r[4]);
    } else {
      stats.rowsAdded++;
      if (same && existing[0] === r[2] && existing[1] === r[4] && destTotal === g.total) same.rows++;
      write?.(false, g.anchor, r[1], addCounts(existing[0], r[2]), newTotal, Math.max(existing[1], r[4]));
    }
  }
}

function describeSqliteWriteError(err: unknown, dbPath: string): SeedError {
  const code = errnoCode(err);
  const msg = (err as Error).message;
  if (code.startsWith('SQLITE_BUSY') || code === 'SQLITE_LOCKED') {
    return new SeedError('BUSY', `database ${dbPath} is busy (another writer holds it); nothing was changed; try again, or raise --wait`);
  }
  if (code === 'SQLITE_FULL') return new SeedError('IO', `disk full writing ${dbPath}; nothing was changed`);
  if (code.startsWith('SQLITE_READONLY')) return new SeedError('IO', `database ${dbPath} is read-only (${code}); nothing was changed`);
  return new SeedError('IO', `cannot write ${dbPath} (${code || 'error'}): ${msg}; nothing was changed`);
}

/** Thrown inside the transaction to roll it back when the source turns out to be applied already. */
class AlreadyApplied extends Error {
  constructor(readonly entry: LedgerEntry, readonly scan: ScanResult) {
    super('already applied');
  }
}

/** The result for a source recognised by its file digest, without reading it. */
function knownFile(source: ProfileSource, entry: LedgerEntry): ApplyResult {
  return {
    outcome: 'already', stats: emptyStats(), appliedAt: entry.applied_at,
    scan: { digest: source.fileDigest, fileDigest: source.fileDigest, sensorId: source.sensorId, rows: entry.rows, anchors: null, zeroRows: 0 },
  };
}

/**
 * Applies a source to a destination opened by this process (no daemon running): one pass that
 * validates, digests and merges, in one transaction with the ledger rows — all of it or nothing.
 * A source found in the ledger (by its bytes first, else by its content digest at the end of the
 * pass, when the transaction is rolled back) is a no-op unless `force`. With `dryRun`, computes
 * the same statistics and writes nothing; `dest` may then be null (no database yet).
 */
export function applyToDatabase(
  dest: SensorDb | null, source: ProfileSource,
  opts: { force?: boolean; dryRun?: boolean; now?: number; progress?: Progress } = {},
): ApplyResult {
  const stats = emptyStats();
  if (dest === null && !opts.dryRun) throw new Error('applyToDatabase: a destination is needed unless dryRun');
  const db = dest?.db ?? null;
  const force = opts.force === true;
  if (db && !force) {
    const known = ledgerLookup(db, source.fileDigest);
    if (known) return knownFile(source, known);
  }
  const scan = new SourceScan(source, opts.progress);

  if (opts.dryRun || db === null || dest === null) {
    const journalEmpty = db === null || db.prepare('SELECT 1 FROM profile_journal LIMIT 1').get() === undefined;
    const reader: AnchorReader = db === null ? () => null : journalEmpty ? baseAnchorReader(db) : journalAwareReader(db);
    for (const g of scan.groups()) mergeGroup(g, reader(g.anchor), stats, null);
    const result = scan.finish();
    const previous = db ? ledgerLookup(db, result.digest) : null;
    return previous && !force
      ? { outcome: 'already', stats, scan: result, appliedAt: previous.applied_at }
      : { outcome: 'dry-run', stats, scan: result, appliedAt: null };
  }

  const now = opts.now ?? Date.now();
  const insert = db.prepare('INSERT INTO behavior_profiles (anchor_key, companion_key, count, total_seen, last_updated) VALUES (?, ?, ?, ?, ?)');
  const update = db.prepare('UPDATE behavior_profiles SET count = ?, total_seen = ?, last_updated = ? WHERE anchor_key = ? AND companion_key = ?');
  const write: RowWriter = (isNew, a, c, count, total, updated) => {
    if (isNew) insert.run(a, c, count, total, updated);
    else update.run(count, total, updated, a, c);
  };
  try {
    const result = db.transaction((): ScanResult => {
      // Fold the journal into the base first: journal rows outrank base rows, so writing the base
      // under a non-empty journal could be overruled by an older journal row.
      if (db.prepare('SELECT 1 FROM profile_journal LIMIT 1').get() !== undefined) new ProfileStore(db).compact();
      const empty = db.prepare('SELECT 1 FROM behavior_profiles LIMIT 1').get() === undefined;
      const reader: AnchorReader = empty ? () => null : baseAnchorReader(db);
      const same = { rows: 0 };
      for (const g of scan.groups()) mergeGroup(g, reader(g.anchor), stats, write, same);
      const r = scan.finish();
      const previous = ledgerLookup(db, r.digest);
      if (previous && !force) throw new AlreadyApplied(previous, r);
      if (!force && source.kind === 'jsonl' && stats.rows > 0 && same.rows === stats.rows) {
        // Every row equals what the database holds (counts, totals and times): an export of this
        // very database. A backup seeded into itself is caught by its sensor id and creation time;
        // an export carries neither, so its rows tell.
        throw new SeedError('INVALID', `every one of the ${stats.rows} rows of ${source.label} equals what ${dest.path} already holds: ` +
          'it is this database\'s own export, and merging it would count its history twice; nothing was changed (--force merges it anyway)');
      }
      ledgerRecord(db, r, now);
      return r;
    }).immediate();
    try {
      db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      /* committed; the next writer checkpoints */
    }
    return { outcome: 'applied', stats, scan: result, appliedAt: null };
  } catch (err) {
    if (err instanceof AlreadyApplied) {
      // Same profiles from another file: remember this file too, so next time costs no pass.
      try {
        db.transaction(() => ledgerRecord(db, err.scan, err.entry.applied_at, false))();
      } catch {
        /* only a shortcut */
      }
      return { outcome: 'already', stats: emptyStats(), scan: err.scan, appliedAt: err.entry.applied_at };
    }
    if (err instanceof SeedError) throw err;
    throw describeSqliteWriteError(err, dest.path);
  }
}

/**
 * A reader that sees base ⊕ journal, for a dry run on a database whose journal has not been
 * folded in (a read-only look must not fold it). The journal is copied once into a temporary
 * indexed table, so each anchor costs two index lookups rather than a journal scan.
 */
function journalAwareReader(db: Database.Database): AnchorReader {
  db.exec(`CREATE TEMP TABLE IF NOT EXISTS seed_journal AS SELECT seq, op, anchor_key, companion_key, count, total_seen, last_updated FROM main.profile_journal;
           CREATE INDEX IF NOT EXISTS temp.seed_journal_anchor ON seed_journal (anchor_key, seq)`);
  const base = baseAnchorReader(db);
  const journal = db.prepare('SELECT op, companion_key, count, total_seen, last_updated FROM temp.seed_journal WHERE anchor_key = ? ORDER BY seq').raw(true);
  return (anchor) => {
    const out: DestAnchor = base(anchor) ?? { total: 0, rows: new Map() };
    for (const r of journal.all(anchor) as [number, string, number, number, number][]) {
      if (r[0] === 2) out.rows.clear();
      else if (r[0] === 1) out.rows.delete(r[1]);
      else out.rows.set(r[1], [r[2], r[4], r[3]]);
    }
    // As the view computes it: the anchor's total is the largest total_seen among its live rows.
    out.total = 0;
    for (const v of out.rows.values()) if (v[2] > out.total) out.total = v[2];
    return out.rows.size === 0 ? null : out;
  };
}
