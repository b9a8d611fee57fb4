/**
 * What every sensorctl command shares: exit codes, the --db/--config/--socket options with the
 * daemon's defaults, turning errors into one line and an exit code, and time parsing.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Argv } from 'yargs';
import { ConfigError, loadConfig, resolveDbPath, type SensorConfig } from '../daemon/config.js';
import { isSqliteFile, StorageError } from '../storage/db.js';
import { writerLockHolder } from '../storage/lock.js';
import { SeedError } from '../storage/seed.js';
import { ControlError } from './control-client.js';
import { fail } from './output.js';

/** Exit codes, the same for every command (see EXIT_CODES_HELP). */
export const EXIT = {
  OK: 0,
  /** An unexpected failure (a bug): run again with --debug and report it. */
  FAILURE: 1,
  /** Nothing to do: the source was already applied (seed, import-profiles). */
  NOTHING_TO_DO: 3,
  USAGE: 64,
  /** The input is invalid: a hostile, damaged or foreign source; rejected whole, nothing changed. */
  INVALID_SOURCE: 65,
  /** The named input does not exist. */
  NO_INPUT: 66,
  /** The sensor daemon is not running (alerts --follow). */
  NO_DAEMON: 69,
  /** I/O error: disk full, unwritable file, unusable database. */
  IO: 74,
  /** Busy: the database is locked by another writer, another seed is running, or the sensor is shutting down. Try again. */
  BUSY: 75,
  /** Permission denied (database or control socket). */
  NO_PERMISSION: 77,
  /** Configuration error, or a database from a newer version. */
  CONFIG: 78,
} as const;

export const EXIT_CODES_HELP =
  'Exit codes: 0 done; 3 nothing to do (already applied); 64 usage error; 65 invalid source (rejected whole, nothing changed); ' +
  '66 input missing; 69 sensord not running; 74 I/O error (disk full, unwritable); 75 busy (database locked, another seed running; retry); ' +
  '77 permission denied; 78 configuration error or database from a newer version; 1 unexpected error (rerun with --debug).';

export class CliError extends Error {
  constructor(readonly exitCode: number, message: string) {
    super(message);
    this.name = 'CliError';
  }
}

export interface DbArgs {
  db?: string;
  config?: string;
  socket?: string;
  json?: boolean;
}

/** --db and --config with the daemon's defaults, plus --socket. */
export function withDbOptions<T>(y: Argv<T>): Argv<T & DbArgs> {
  return y
    .option('db', { type: 'string', describe: 'sensor database (default: $SENSOR_DB, config db_path, /var/lib/sensor/sensor.db)' })
    .option('config', { alias: 'c', type: 'string', describe: 'config file (default: $SENSOR_CONFIG or /etc/sensor/sensor.yaml if present)' })
    .option('socket', { type: 'string', describe: 'sensord control socket (default: config control_socket, $RUNTIME_DIRECTORY/control.sock, <db>.sock)' }) as Argv<T & DbArgs>;
}

export interface Context {
  config: SensorConfig;
  configSource: string | null;
  /** Absolute. */
  dbPath: string;
  socket?: string;
}

export function context(args: DbArgs): Context {
  try {
    const { config, source } = loadConfig(args.config);
    return { config, configSource: source, dbPath: path.resolve(resolveDbPath(args.db, config)), socket: args.socket };
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(EXIT.CONFIG, err.message.replace(/:\n\s+/, ': ').replace(/\n\s+/g, '; '));
    throw err;
  }
}

function errnoCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
}

/** Maps any error to [exit code, one-line message]. */
export function classify(err: unknown): [number, string] {
  if (err instanceof CliError) return [err.exitCode, err.message];
  if (err instanceof SeedError) {
    const code = { MISSING: EXIT.NO_INPUT, INVALID: EXIT.INVALID_SOURCE, SAME_FILE: EXIT.INVALID_SOURCE, BUSY: EXIT.BUSY, IO: EXIT.IO }[err.code];
    return [code, err.message];
  }
  if (err instanceof StorageError) {
    const code = { SCHEMA_TOO_NEW: EXIT.CONFIG, NOT_SENSOR_DB: EXIT.CONFIG, MISSING: EXIT.NO_INPUT, OPEN_FAILED: EXIT.IO, LOCKED: EXIT.BUSY, PERMISSION: EXIT.NO_PERMISSION }[err.code as string] ?? EXIT.IO;
    return [code, err.message];
  }
  if (err instanceof ControlError) {
    const code = { BUSY: EXIT.BUSY, STOPPING: EXIT.BUSY, INVALID: EXIT.INVALID_SOURCE, IO: EXIT.IO, PERMISSION: EXIT.NO_PERMISSION, BAD_REQUEST: EXIT.FAILURE, GONE: EXIT.BUSY, TIMEOUT: EXIT.BUSY, WRONG_DAEMON: EXIT.CONFIG }[err.code] ?? EXIT.FAILURE;
    return [code, err.message];
  }
  const code = errnoCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY') || code === 'SQLITE_LOCKED') return [EXIT.BUSY, `database is busy: ${msg}; try again`];
  if (code === 'SQLITE_FULL' || code === 'ENOSPC') return [EXIT.IO, `disk full: ${msg}`];
  if (code === 'EACCES' || code === 'EPERM') return [EXIT.NO_PERMISSION, `permission denied: ${msg}`];
  if (code.startsWith('SQLITE_') || code.startsWith('E')) return [EXIT.IO, msg];
  return [EXIT.FAILURE, `unexpected error: ${msg} (rerun with --debug for details)`];
}

/**
 * Wraps a command handler: any error becomes one line on stderr and its exit code; with --json,
 * also one JSON line on stdout so scripts see the outcome there too.
 */
export function run<A extends { json?: boolean }>(handler: (args: A) => Promise<number | void>): (args: A) => Promise<void> {
  return async (args: A) => {
    let code: number;
    try {
      code = (await handler(args)) ?? EXIT.OK;
    } catch (err) {
      if (errnoCode(err) === 'EPIPE') process.exit(EXIT.OK); // the reader of our output has gone (`| head`)
      const [exitCode, message] = classify(err);
      if (args.json) process.stdout.write(`${JSON.stringify({ outcome: 'error', exit_code: exitCode, error: message })}\n`);
      fail(message, exitCode, err);
    }
    process.exitCode = code;
  };
}

const DATABASE_COMPANIONS = ['', '-wal', '-shm', '-journal', '.lock', '.sock'];

/** The database at `dbPath` (by its name and its real path) and its companion files, as [path, suffix]. */
function databaseFiles(dbPath: string): [string, string][] {
  const abs = path.resolve(dbPath);
  let real = abs;
  try { real = fs.realpathSync(abs); } catch { /* not there yet: its own name */ }
  return [...new Set([abs, real])].flatMap((p) => DATABASE_COMPANIONS.map((suffix): [string, string] => [p + suffix, suffix]));
}

function realPathOf(file: string): string {
  const abs = path.resolve(file);
  try {
    return fs.realpathSync(abs);
  } catch {
    // Not there yet: the real directory and the new name (a dangling symlink is refused by the caller).
    try { return path.join(fs.realpathSync(path.dirname(abs)), path.basename(abs)); } catch { return abs; }
  }
}

/**
 * Checks an output file before any work starts and returns the path to write (through a symlink to
 * its target, so the link keeps pointing at the new file). Refused: an empty name and a directory
 * (usage errors, 64); a missing directory (74, create it first); a name that exists and is not a
 * regular file, such as a device or a pipe, which an atomic rename would replace (64, use
 * standard output and redirect); and the database itself or any of its companion files (-wal,
 * -shm, lock, socket), by name, through a symlink or as a hard link (64): a rename over it would
 * destroy the profiles. So are another running sensor's database, any database's companion files,
 * and (unless the output is itself a database, as a backup is) an existing SQLite file.
 */
export function resolveOutputFile(file: string, what: string, dbPath: string, options: { replacesDatabase?: boolean } = {}): string {
  if (file === '') throw new CliError(EXIT.USAGE, `the ${what} file name is empty; name the file to write`);
  const link = fs.lstatSync(file, { throwIfNoEntry: false });
  const target = realPathOf(file);
  if (link?.isSymbolicLink() && !fs.existsSync(target)) {
    // /dev/stdout on a pipe resolves to "pipe:[N]": not a file either way.
    if (fs.statSync(file, { throwIfNoEntry: false })) throw new CliError(EXIT.USAGE, `${file} is not a regular file; for standard output use -o - or leave -o out`);
    throw new CliError(EXIT.USAGE, `${file} is a symlink to a missing file; name the ${what} file itself`);
  }
  const dir = path.dirname(target);
  const dirStat = fs.statSync(dir, { throwIfNoEntry: false });
  if (!dirStat) throw new CliError(EXIT.IO, `cannot write ${what} ${file}: directory ${dir} does not exist (create it first)`);
  if (!dirStat.isDirectory()) throw new CliError(EXIT.IO, `cannot write ${what} ${file}: ${dir} is not a directory`);
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK); // the temporary file and the rename happen there
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EROFS') throw new CliError(EXIT.IO, `cannot write ${what} ${file}: ${dir} is on a read-only filesystem`);
    throw new CliError(EXIT.NO_PERMISSION, `cannot write ${what} ${file}: no permission to create files in ${dir}`);
  }
  const stat = fs.statSync(target, { throwIfNoEntry: false });
  if (stat?.isDirectory()) throw new CliError(EXIT.USAGE, `${file} is a directory; name the ${what} file to write`);
  const clash = databaseFiles(dbPath).find(([p]) => {
    if (p === target) return true;
    const s = stat && fs.statSync(p, { throwIfNoEntry: false });
    return !!s && s.dev === stat.dev && s.ino === stat.ino;
  });
  if (clash !== undefined) {
    const which = clash[1] === '' ? 'the sensor database itself' : `the sensor database's ${clash[1].replace(/^[.-]/, '')} file`;
    throw new CliError(EXIT.USAGE, `${file} is ${which}; name a new file for the ${what}`);
  }
  if (stat && !stat.isFile()) {
    throw new CliError(EXIT.USAGE, `${file} exists and is not a regular file (a device, pipe or socket would be replaced); write to standard output and redirect instead`);
  }
  // Another database's files: a running sensor's database (it would go on writing into the
  // replaced file and lose everything), and any database's -wal/-shm/lock/socket.
  const holder = stat ? writerLockHolder(target) : null;
  if (holder !== null) throw new CliError(EXIT.USAGE, `${file} is the database of a running sensord (pid ${holder}); stop it first, or name a new file for the ${what}`);
  for (const suffix of DATABASE_COMPANIONS) {
    if (suffix !== '' && target.endsWith(suffix) && fs.statSync(target.slice(0, -suffix.length), { throwIfNoEntry: false })?.isFile()) {
      throw new CliError(EXIT.USAGE, `${file} belongs to the database ${target.slice(0, -suffix.length)}; name a new file for the ${what}`);
    }
  }
  if (stat && !options.replacesDatabase && isSqliteFile(target)) {
    throw new CliError(EXIT.USAGE, `${file} is a SQLite database, not an earlier ${what}; name a new file`);
  }
  return target;
}

/**
 * A numeric option checked before any work: yargs turns `abc` into NaN and passes 1e400 as
 * Infinity, which would otherwise surface as a database error. Usage error (64) naming the range.
 */
export function checkNumber(
  value: number | undefined, option: string, range: { min: number; max: number; integer?: boolean; aboveMin?: boolean; unit?: string },
): void {
  if (value === undefined) return;
  const low = range.aboveMin ? value > range.min : value >= range.min;
  if (Number.isFinite(value) && low && value <= range.max && (!range.integer || Number.isInteger(value))) return;
  const what = range.integer ? 'a whole number' : 'a number';
  const span = range.aboveMin ? `above ${range.min} and at most ${range.max}` : `from ${range.min} to ${range.max}`;
  throw new CliError(EXIT.USAGE, `--${option} must be ${what} ${span}${range.unit ? ` ${range.unit}` : ''}`);
}

/**
 * yargs reads a lone `-` positional as ''; the commands take it as standard input. A name that
 * really is empty (`""`, an unset shell variable) is a usage error, not standard input.
 */
export function stdinOrPath(file: string, argv: readonly string[] = process.argv.slice(2)): string {
  if (file !== '') return file;
  if (argv.includes('-')) return '-';
  throw new CliError(EXIT.USAGE, 'the file name is empty; name a file, or - for standard input');
}

/**
 * A time as the user writes it: ISO 8601 (`2024-05-01`, `2024-05-01T12:00:00Z`), epoch seconds or
 * milliseconds, or an age (`30m`, `2h`, `7d`, `1w`: that long ago).
 */
export function parseTime(s: string, now = Date.now()): number {
  const t = s.trim();
  const age = /^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$/.exec(t);
  if (age) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }[age[2] as 's' | 'm' | 'h' | 'd' | 'w'];
    return Math.round(now - Number(age[1]) * unit);
  }
  if (/^\d{12,14}$/.test(t)) return Number(t);
  if (/^\d{9,11}$/.test(t)) return Number(t) * 1000;
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) throw new CliError(EXIT.USAGE, `cannot read the time "${s}": use ISO 8601 (2024-05-01T12:00:00Z), epoch seconds, or an age such as 30m, 2h, 7d`);
  return ms;
}

export function isoTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function humanBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function humanDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s % 60}s`;
  return `${s}s`;
}
