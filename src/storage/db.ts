/**
 * Opening the sensor database: start-up safety check, recovery, pragmas, migrations, meta.
 *
 * Start-up never crash-loops on a bad file: a database that is not SQLite or fails
 * `PRAGMA quick_check` is moved aside to `NAME.corrupt-<timestamp>` (never deleted) and replaced
 * by the newest snapshot that passes quick_check, or by an empty database. A database written by
 * a newer build is refused before a single byte of it is written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import Database from 'better-sqlite3';
import { LATEST_SCHEMA_VERSION, isForeignDb, migrate, schemaVersionOf } from './migrations.js';
import { listSnapshots, quickCheckFile } from './snapshots.js';
import { trackTemporary } from './temp-files.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, message: string, fields?: Record<string, unknown>) => void;
export const silentLogger: Logger = () => {};

export type StorageErrorCode = 'SCHEMA_TOO_NEW' | 'NOT_SENSOR_DB' | 'OPEN_FAILED' | 'MISSING' | 'DISK_FULL' | 'LOCKED' | 'SAME_FILE' | 'PERMISSION';

/** A storage failure a person can act on; `code` tells callers which exit code to use. */
export class StorageError extends Error {
  constructor(readonly code: StorageErrorCode, message: string) {
    super(message);
    this.name = 'StorageError';
  }
}

export interface RecoveryReport {
  reason: string;
  movedTo: string;
  restoredFrom: string | null;
}

export interface OpenOptions {
  /** Read-only (CLI readers): no recovery, no migration, no pragmas that write. */
  readonly?: boolean;
  /** Move a corrupt file aside and restore/start empty. Default: true unless readonly. */
  recover?: boolean;
  /** Run PRAGMA quick_check before use. Default: true unless readonly (readers meet damage as errors). */
  check?: boolean;
  /** Create the file when missing. Default: true unless readonly. */
  create?: boolean;
  /** Sensor id stored in meta when the database is created. Default: a random UUID. */
  sensorId?: string;
  /** WAL size the file is cut back to after checkpoints. Default 4 MiB. */
  journalSizeLimit?: number;
  /** SQLite page cache, KiB. Default 8 MiB. */
  cacheSizeKb?: number;
  /** How long a write waits for another writer (e.g. sensorctl). Default 2 s. */
  busyTimeoutMs?: number;
  log?: Logger;
  now?: () => number;
}

export interface SensorDb {
  readonly db: Database.Database;
  readonly path: string;
  readonly readonly: boolean;
  readonly sensorId: string;
  /** Epoch ms when the database was created. */
  readonly createdAt: number;
  readonly schemaVersion: number;
  readonly pageSize: number;
  readonly journalSizeLimit: number;
  /** Set when start-up moved a bad file aside. */
  readonly recovery: RecoveryReport | null;
  close(): void;
}

export const DEFAULT_JOURNAL_SIZE_LIMIT = 4 * 1024 * 1024;
const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

type Inspection =
  | { state: 'missing' }
  | { state: 'ok'; version: number; foreign: boolean }
  | { state: 'corrupt'; reason: string };

function sqliteCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
}

/** True for errors that mean "this file is not a healthy SQLite database" (as opposed to I/O or permissions). */
export function isCorruptionError(err: unknown): boolean {
  const code = sqliteCode(err);
  return code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB';
}

/** Looks at a database file without writing to it; `check` runs quick_check too. */
function inspect(file: string, check = true): Inspection {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: 'missing' };
    if ((err as NodeJS.ErrnoException).code === 'EACCES') {
      throw new StorageError('PERMISSION', `cannot read database ${file}: permission denied (run as its owner, e.g. sudo -u sensor, or join its group)`);
    }
    throw new StorageError('OPEN_FAILED', `cannot open database ${file}: ${(err as Error).message}`);
  }
  try {
    if (fs.fstatSync(fd).isDirectory()) throw new StorageError('OPEN_FAILED', `database path ${file} is a directory; name a file in it`);
    const head = Buffer.alloc(512);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    if (n === 0) return { state: 'ok', version: 0, foreign: false }; // an empty file is an empty database
    if (n < 16 || !head.subarray(0, 16).equals(SQLITE_HEADER)) {
      // A recognisable file where the header should be — text (a config, a README), a capture, an
      // archive — with no snapshot of ours beside it is a wrong --db, not a database the card
      // damaged (that leaves zeros or noise): refuse it and leave it where it is.
      const kind = foreignFileKind(head, n);
      if (kind !== null && listSnapshots(file).length === 0) throw new StorageError('NOT_SENSOR_DB', `${file} is ${kind}, not a sensor database; it was not modified (check --db / db_path)`);
      return { state: 'corrupt', reason: 'not a SQLite database' };
    }
  } finally {
    fs.closeSync(fd);
  }
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const result = check ? quickCheck(db) : 'ok';
    if (result !== 'ok') return { state: 'corrupt', reason: `quick_check failed: ${result}` };
    return { state: 'ok', version: schemaVersionOf(db), foreign: isForeignDb(db) };
  } catch (err) {
    if (isCorruptionError(err)) return { state: 'corrupt', reason: `${sqliteCode(err)}: ${(err as Error).message}` };
    throw openFailure(file, err);
  } finally {
    db?.close();
  }
}

/** Leading bytes of formats a --db mix-up is likely to name. */
const FILE_MAGIC: [number[], string][] = [
  [[0xd4, 0xc3, 0xb2, 0xa1], 'a pcap capture'], [[0xa1, 0xb2, 0xc3, 0xd4], 'a pcap capture'],
  [[0x4d, 0x3c, 0xb2, 0xa1], 'a pcap capture'], [[0xa1, 0xb2, 0x3c, 0x4d], 'a pcap capture'],
  [[0x0a, 0x0d, 0x0d, 0x0a], 'a pcapng capture'], [[0x1f, 0x8b], 'a gzip file'], [[0x28, 0xb5, 0x2f, 0xfd], 'a zstd file'],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 'an xz file'], [[0x42, 0x5a, 0x68], 'a bzip2 file'], [[0x50, 0x4b, 0x03, 0x04], 'a zip file'],
  [[0x7f, 0x45, 0x4c, 0x46], 'an executable'], [[0x25, 0x50, 0x44, 0x46], 'a PDF'],
];

/** What a file that is not SQLite recognisably is ('a text file', 'a pcap capture', ...), or null for noise. */
function foreignFileKind(buf: Buffer, n: number): string | null {
  for (const [magic, kind] of FILE_MAGIC) {
    if (n >= magic.length && magic.every((b, i) => buf[i] === b)) return kind;
  }
  return isUtf8Text(buf, n) ? 'a text file' : null;
}

/**
 * True when the first bytes are UTF-8 text: well-formed sequences (one cut off by the end of the
 * sample allowed), no control characters but tab, newline and carriage return.
 */
function isUtf8Text(buf: Buffer, n: number): boolean {
  let i = 0;
  while (i < n) {
    const b = buf[i];
    if (b < 0x80) {
      if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d) return false;
      if (b === 0x7f) return false;
      i++;
      continue;
    }
    const len = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0) return false;
    for (let k = 1; k < len; k++) {
      if (i + k >= n) return true; // cut off by the sample's end
      if ((buf[i + k] & 0xc0) !== 0x80) return false;
    }
    i += len;
  }
  return true;
}

/** True when the filesystem holding `file` has no free blocks left. */
function diskFull(file: string): boolean {
  try {
    const st = fs.statfsSync(path.dirname(path.resolve(file)));
    return st.bavail === 0 || st.bfree === 0;
  } catch {
    return false;
  }
}

function openFailure(file: string, err: unknown): StorageError {
  const msg = (err as Error).message;
  if (sqliteCode(err) === 'SQLITE_FULL' || diskFull(file)) {
    return new StorageError('DISK_FULL', `cannot open database ${file}: no space left on its filesystem (${msg}); free some space (WAL mode needs room for its index file)`);
  }
  return new StorageError('OPEN_FAILED', `cannot open database ${file}: ${msg}`);
}

/** `PRAGMA quick_check` as one string: 'ok' or the first problems found. */
export function quickCheck(db: Database.Database): string {
  const rows = db.pragma('quick_check(5)') as { quick_check: string }[];
  return rows.map((r) => r.quick_check).join('; ');
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace('.', '');
}

/** Moves the database and its WAL/SHM aside to `NAME.corrupt-<timestamp>`; returns the new name. */
function moveAside(file: string, now: number): string {
  let target = `${file}.corrupt-${stamp(now)}`;
  for (let i = 1; fs.existsSync(target); i++) target = `${file}.corrupt-${stamp(now)}-${i}`;
  fs.renameSync(file, target);
  for (const suffix of ['-wal', '-shm']) {
    if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, target + suffix);
  }
  return target;
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  } catch { /* not all filesystems allow it; the rename is still atomic */ }
}

/** Copies a snapshot into place through a temporary file, so a crash mid-copy leaves no half database. */
function restoreSnapshot(snapshot: string, file: string): void {
  const tmp = `${file}.restore-tmp`;
  fs.copyFileSync(snapshot, tmp);
  const fd = fs.openSync(tmp, 'r+');
  try { fs.fsyncSync(fd); } finally { fs.closeSync(fd); }
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

function recoverIfCorrupt(file: string, inspection: Inspection, log: Logger, now: number): RecoveryReport | null {
  if (inspection.state !== 'corrupt') return null;
  const movedTo = moveAside(file, now);
  log('error', `database ${file} is unusable (${inspection.reason}); moved aside to ${movedTo}`);
  let restoredFrom: string | null = null;
  for (const snap of listSnapshots(file)) {
    const result = quickCheckFile(snap);
    if (result === 'ok') {
      restoreSnapshot(snap, file);
      restoredFrom = snap;
      break;
    }
    log('warn', `snapshot ${snap} is not usable (${result}); trying an older one`);
  }
  if (restoredFrom) log('warn', `restored ${file} from snapshot ${restoredFrom}`);
  else log('warn', `no good snapshot of ${file}; starting with an empty database`);
  return { reason: inspection.reason, movedTo, restoredFrom };
}

function tooNew(file: string, version: number): StorageError {
  return new StorageError(
    'SCHEMA_TOO_NEW',
    `database ${file} has schema version ${version}, newer than this build supports (${LATEST_SCHEMA_VERSION}); ` +
      'upgrade the sensor software or point --db at another file (the database was not modified)',
  );
}

function notSensorDb(file: string): StorageError {
  return new StorageError('NOT_SENSOR_DB', `${file} is a SQLite database but not a sensor database (no schema_version table); it was not modified`);
}

/**
 * Pragmas for the daemon's connection.
 * - WAL: readers (sensorctl export/status) never block the flush, and a flush appends pages
 *   instead of rewriting them through a rollback journal.
 * - synchronous=FULL: the WAL is fsynced at each commit, so a flush that returned is on the card
 *   even if the plug is pulled a moment later. NORMAL would save that one fsync per flush (every
 *   30 s, i.e. nothing worth having) at the price of a power cut rolling back a completed flush.
 * - journal_size_limit: after a checkpoint the WAL file is cut back to this size, so one large
 *   flush (or a reader that held the WAL) does not leave a large file behind for ever.
 * - wal_autocheckpoint=0: checkpoints are run explicitly after each flush (see persister.ts),
 *   never in the middle of one.
 * - temp_store=MEMORY: no temporary files on flash.
 */
function applyWriterPragmas(db: Database.Database, journalSizeLimit: number, cacheSizeKb: number): void {
  const mode = db.pragma('journal_mode = WAL', { simple: true });
  if (String(mode).toLowerCase() !== 'wal') throw new StorageError('OPEN_FAILED', `cannot switch ${db.name} to WAL mode (got ${mode})`);
  db.pragma('synchronous = FULL');
  db.pragma(`journal_size_limit = ${Math.max(0, Math.floor(journalSizeLimit))}`);
  db.pragma('wal_autocheckpoint = 0');
  db.pragma('temp_store = MEMORY');
  db.pragma(`cache_size = -${Math.max(256, Math.floor(cacheSizeKb))}`);
}

function readMeta(db: Database.Database): Map<string, string> {
  const rows = db.prepare('SELECT key, value FROM meta').all() as { key: string; value: string }[];
  return new Map(rows.map((r) => [r.key, r.value]));
}

/**
 * Opens (creating, recovering and migrating as needed) the sensor database at `file`.
 * Throws StorageError for a newer schema, a foreign database, or an unreadable file.
 */
export function openSensorDb(file: string, options: OpenOptions = {}): SensorDb {
  const readonly = options.readonly ?? false;
  const recover = options.recover ?? !readonly;
  const create = options.create ?? !readonly;
  const log = options.log ?? silentLogger;
  const now = options.now ?? Date.now;
  const journalSizeLimit = options.journalSizeLimit ?? DEFAULT_JOURNAL_SIZE_LIMIT;

  if (readonly) checkCompanionsReadable(file);
  if (readonly && needsPrivateCopy(file)) return openPrivateCopy(file, options);

  let inspection = inspect(file, options.check ?? !readonly);
  let recovery: RecoveryReport | null = null;
  if (inspection.state === 'missing' && !create) throw new StorageError('MISSING', `database ${file} does not exist`);
  if (inspection.state === 'corrupt') {
    if (!recover) {
      throw new StorageError(inspection.reason === 'not a SQLite database' ? 'NOT_SENSOR_DB' : 'OPEN_FAILED',
        `database ${file} is unusable: ${inspection.reason}`);
    }
    recovery = recoverIfCorrupt(file, inspection, log, now());
    inspection = inspect(file);
    if (inspection.state === 'corrupt') {
      // The restored snapshot went bad between check and use: give up on it, start empty.
      const movedTo = moveAside(file, now());
      log('error', `restored database failed its check too (${inspection.reason}); moved aside to ${movedTo}; starting empty`);
      recovery = { ...recovery!, restoredFrom: null };
      inspection = { state: 'missing' };
    }
  }
  if (inspection.state === 'ok') {
    if (inspection.version > LATEST_SCHEMA_VERSION) throw tooNew(file, inspection.version);
    if (inspection.foreign) throw notSensorDb(file);
  }

  if (readonly) {
    const db = new Database(file, { readonly: true, fileMustExist: true });
    try {
      const version = schemaVersionOf(db);
      if (version === 0) throw notSensorDb(file);
      const meta = readMeta(db);
      return makeHandle(db, file, true, meta, version, journalSizeLimit, recovery);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  checkWritable(file);
  const db = new Database(file, { timeout: options.busyTimeoutMs ?? 2000 });
  try {
    try {
      db.pragma('schema_version'); // the first read: opens the WAL index, fails here on a full disk
    } catch (err) {
      throw openFailure(file, err);
    }
    applyWriterPragmas(db, journalSizeLimit, options.cacheSizeKb ?? 8192);
    const { from, to } = migrate(db, now());
    if (from !== to) log('info', from === 0 ? `created database ${file} (schema ${to})` : `migrated ${file} from schema ${from} to ${to}`);
    let meta = readMeta(db);
    if (!meta.has('sensor_id') || !meta.has('created_at')) {
      const put = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
      db.transaction(() => {
        put.run('sensor_id', options.sensorId ?? randomUUID());
        put.run('created_at', String(now()));
      })();
      meta = readMeta(db);
    }
    try {
      // Fold a WAL left by a crash into the file now, while nothing else is running.
      db.pragma('wal_checkpoint(TRUNCATE)');
    } catch (err) {
      // A full disk must not stop the sensor from starting: the WAL stays valid and is read as is.
      log('warn', `start-up checkpoint of ${file} failed (${(err as Error).message}); continuing with the WAL as it is`);
    }
    return makeHandle(db, file, false, meta, to, journalSizeLimit, recovery);
  } catch (err) {
    db.close();
    throw err;
  }
}

/**
 * A writer that may not write the file (or its -wal/-shm, or create them) would open it fine and
 * only fail at its first flush, a live sensor never persisting anything: refused at the start.
 */
function checkWritable(file: string): void {
  const dir = path.dirname(path.resolve(file));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    if (!fs.existsSync(f)) continue;
    try {
      fs.accessSync(f, fs.constants.R_OK | fs.constants.W_OK);
    } catch {
      throw new StorageError('PERMISSION', `cannot write database ${f}: permission denied (run as its owner, e.g. sudo -u sensor, or fix its ownership)`);
    }
  }
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK); // the -wal and -shm are created there
  } catch {
    throw new StorageError('PERMISSION', `cannot write database ${file}: no permission to create files in ${dir}`);
  }
}

/**
 * A reader that may not write beside the database (an operator in the sensor group: the state
 * directory is 0750) cannot open a WAL database whose -shm index is gone, as after sensord stopped:
 * SQLite would have to create it. With no writer running (a writer keeps the -shm), a private copy
 * of the file (and of a leftover -wal) reads the same.
 */
/**
 * A reader needs the -wal beside the file (rows committed but not yet checkpointed) and the -shm
 * that indexes it: one it may not read is a permission problem to name, not an I/O error.
 */
function checkCompanionsReadable(file: string): void {
  for (const companion of [`${file}-wal`, `${file}-shm`]) {
    try {
      fs.accessSync(companion, fs.constants.R_OK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EACCES') {
        throw new StorageError('PERMISSION', `cannot read database ${companion}: permission denied (run as its owner, e.g. sudo -u sensor, or join its group)`);
      }
    }
  }
}

/**
 * Also on a full filesystem: SQLite cannot create the -shm there either, and a full disk is exactly
 * when an operator wants to export or back up the profiles before making room.
 */
function needsPrivateCopy(file: string): boolean {
  if (!fs.existsSync(file)) return false;
  const shm = fs.statSync(`${file}-shm`, { throwIfNoEntry: false });
  if (shm !== undefined) {
    // A short index is what an attempt on the full disk left behind (SQLite made the file, then
    // could not fill it); a full-sized one, a writer's, serves readers even on a full disk.
    if (shm.size >= WAL_INDEX_MIN_BYTES || !diskFull(file)) return false;
  } else if (!diskFull(file)) {
    try {
      fs.accessSync(path.dirname(path.resolve(file)), fs.constants.W_OK);
      return false;
    } catch { /* not writable: copy */ }
  }
  const head = readHead(file, 20); // unreadable: the normal path says why
  return head !== null && head[18] === 2; // the file format's read version: 2 is WAL
}

/** The first block of a WAL index (-shm): a shorter file holds no index yet. */
const WAL_INDEX_MIN_BYTES = 32_768;

/** The first `n` bytes of a file (fewer if it is shorter); null when it cannot be read. */
function readHead(file: string, n: number): Buffer | null {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(n);
    return head.subarray(0, fs.readSync(fd, head, 0, n, 0));
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** True when the file starts with SQLite's header (any SQLite database, ours or not). */
export function isSqliteFile(file: string): boolean {
  const head = readHead(file, SQLITE_HEADER.length);
  return head !== null && head.equals(SQLITE_HEADER);
}

function openPrivateCopy(file: string, options: OpenOptions): SensorDb {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sensor-db-'));
  const forget = trackTemporary(dir);
  const copy = path.join(dir, path.basename(file));
  const remove = () => {
    fs.rmSync(dir, { recursive: true, force: true });
    forget();
  };
  const rename = (err: unknown) => {
    if (err instanceof Error) err.message = err.message.split(copy).join(file);
    return err;
  };
  try {
    const before = fs.statSync(file);
    const shmBefore = fs.statSync(`${file}-shm`, { throwIfNoEntry: false })?.size ?? -1;
    fs.copyFileSync(file, copy);
    if (fs.existsSync(`${file}-wal`)) fs.copyFileSync(`${file}-wal`, `${copy}-wal`);
    const after = fs.statSync(file);
    const shmAfter = fs.statSync(`${file}-shm`, { throwIfNoEntry: false })?.size ?? -1;
    if (shmAfter !== shmBefore || after.mtimeMs !== before.mtimeMs || after.size !== before.size) {
      throw new StorageError('LOCKED', `database ${file} changed while it was being read (a writer started); try again`);
    }
    const handle = openSensorDb(copy, options);
    return { ...handle, path: file, close: () => { handle.close(); remove(); } };
  } catch (err) {
    remove();
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC') {
      const why = diskFull(file) ? 'its filesystem is full, so SQLite cannot create its index file there' : 'its directory is not writable for this user';
      throw new StorageError('DISK_FULL', `cannot read database ${file}: it must be copied to ${os.tmpdir()} (${why}) and there is no space there either; free some space or set TMPDIR`);
    }
    throw rename(err);
  }
}

function makeHandle(
  db: Database.Database, file: string, readonly: boolean, meta: Map<string, string>,
  schemaVersion: number, journalSizeLimit: number, recovery: RecoveryReport | null,
): SensorDb {
  return {
    db,
    path: file,
    readonly,
    sensorId: meta.get('sensor_id') ?? '',
    createdAt: Number(meta.get('created_at') ?? 0),
    schemaVersion,
    pageSize: db.pragma('page_size', { simple: true }) as number,
    journalSizeLimit,
    recovery,
    close: () => { if (db.open) db.close(); },
  };
}

/** Reads one meta value ('' when absent). */
export function getMeta(db: Database.Database, key: string): string | undefined {
  const row = db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
  return row?.value;
}
