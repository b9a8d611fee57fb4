/**
 * The writer lock: one process at a time writes profiles into a database.
 *
 * The daemon writes absolute values from its memory and folds the journal from its memory, so a
 * second writer (e.g. `sensorctl seed` while sensord runs) would be overwritten or lost. The daemon
 * holds `NAME.lock` (its pid) while it runs; other writers check it first. A lock left by a process
 * that no longer exists (kill -9, power cut) is taken over.
 *
 * The lock belongs to the file, not to the name it was opened by: it sits beside the real path (a
 * symlink to the database finds the same lock), and a database with more than one hard link is
 * refused to writers, since each name would get its own lock and its own -wal file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { StorageError } from './db.js';

export interface WriterLock {
  readonly path: string;
  release(): void;
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Who a process is, beyond its pid: the boot and the process's start time (clock ticks since boot,
 * /proc/PID/stat field 22). The lock sits on the data partition and survives a power cut; after the
 * reboot its pid may belong to any other process, which must not keep the sensor from starting.
 * Null where /proc does not tell (then the pid alone is checked).
 */
function identity(pid: number): string | null {
  try {
    const boot = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces and parentheses) start after the last ')'.
    const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return start ? `${boot}/${start}` : null;
  } catch {
    return null;
  }
}

/** The lock file of the database at `dbPath`: beside its real path, whatever symlinks lead there. */
export function writerLockPath(dbPath: string): string {
  const abs = path.resolve(dbPath);
  try {
    return `${fs.realpathSync(abs)}.lock`;
  } catch {
    try {
      return path.join(fs.realpathSync(path.dirname(abs)), `${path.basename(abs)}.lock`);
    } catch {
      return `${abs}.lock`; // the directory does not exist yet either
    }
  }
}

/**
 * What the process `pid` is, for a message: "sensord", "sensorctl seed", or its program's name.
 * Empty when /proc does not tell.
 */
export function describeProcess(pid: number): string {
  let argv: string[];
  try {
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return '';
  }
  for (let i = 0; i < argv.length; i++) {
    const name = path.basename(argv[i]!).replace(/\.[cm]?js$/, '');
    if (name === 'sensord') return 'sensord';
    if (name === 'sensorctl') {
      const sub = argv.slice(i + 1).find((a) => !a.startsWith('-'));
      return sub ? `sensorctl ${sub}` : 'sensorctl';
    }
  }
  return argv.length > 0 ? path.basename(argv[0]!) : '';
}

/** Sleeps the thread (the writers that wait are synchronous command-line runs). */
function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The pid of the live process holding the writer lock of `dbPath`, or null. */
export function writerLockHolder(dbPath: string): number | null {
  let text: string;
  try {
    text = fs.readFileSync(writerLockPath(dbPath), 'utf8');
  } catch {
    return null;
  }
  const [pidText, recorded] = text.trim().split(/\s+/);
  const pid = Number.parseInt(pidText ?? '', 10);
  if (!alive(pid) || pid === process.pid) return null;
  if (recorded) {
    const now = identity(pid);
    if (now !== null && now !== recorded) return null; // the pid was reused (another boot, another process)
  }
  return pid;
}

/**
 * Takes the writer lock of `dbPath`, waiting up to `waitMs` for a live holder to let go, or throws
 * StorageError('LOCKED') naming the process that holds it. Release it at shutdown (it is also safe
 * to leave behind: a dead holder's lock is taken over).
 */
export function acquireWriterLock(dbPath: string, who = 'this process', waitMs = 0): WriterLock {
  const deadline = Date.now() + waitMs;
  // As opening the database would: the lock comes first, so it makes the directory.
  const dir = path.dirname(path.resolve(dbPath));
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new StorageError('OPEN_FAILED', `cannot create the directory ${dir} for database ${dbPath}: a part of that path is a file, not a directory`);
    if (code === 'EACCES' || code === 'EPERM') throw new StorageError('PERMISSION', `cannot create the directory ${dir} for database ${dbPath}: permission denied`);
    throw err;
  }
  const dbStat = fs.statSync(dbPath, { throwIfNoEntry: false });
  if (dbStat?.isDirectory()) throw new StorageError('OPEN_FAILED', `database path ${dbPath} is a directory; name a file in it`);
  const links = dbStat?.nlink ?? 1;
  if (links > 1) {
    throw new StorageError('OPEN_FAILED', `database ${dbPath} has ${links} hard links; writers through different names would not see each other's lock ` +
      `and SQLite keeps a separate -wal file for each name, so it is refused: remove the other links (find / -samefile ${dbPath}) or copy the file`);
  }
  const lockPath = writerLockPath(dbPath);
  for (let attempt = 0; attempt < 3;) {
    try {
      const fd = fs.openSync(lockPath, 'wx');
      const id = identity(process.pid);
      fs.writeSync(fd, id === null ? `${process.pid}\n` : `${process.pid} ${id}\n`);
      fs.closeSync(fd);
      let released = false;
      return {
        path: lockPath,
        release: () => {
          if (released) return;
          released = true;
          try {
            if (fs.readFileSync(lockPath, 'utf8').trim().split(/\s+/)[0] === String(process.pid)) fs.rmSync(lockPath, { force: true });
          } catch { /* already gone */ }
        },
      };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') {
        throw new StorageError('PERMISSION', `cannot write to database ${dbPath}: permission denied creating its lock file ${lockPath} (run as its owner, e.g. sudo -u sensor)`);
      }
      if (code !== 'EEXIST') {
        throw new StorageError('OPEN_FAILED', `cannot create lock file ${lockPath}: ${(err as Error).message}`);
      }
      const holder = writerLockHolder(dbPath);
      if (holder !== null) {
        const what = describeProcess(holder);
        // A sensord holds its database until it stops: waiting for it would only delay the answer.
        if (Date.now() < deadline && what !== 'sensord') {
          sleepMs(Math.min(100, deadline - Date.now()));
          continue;
        }
        const waited = waitMs > 0 && what !== 'sensord' ? `, waited ${+(waitMs / 1000).toFixed(1)} s` : '';
        const advice = what === 'sensord' ? 'stop it, or let it do the work through its control socket'
          : what.startsWith('sensorctl') ? 'wait for it to finish (or give --wait more seconds)' : 'stop it';
        throw new StorageError('LOCKED', `database ${dbPath} is in use by another writer, pid ${holder}${what ? ` (${what})` : ''}${waited}; ${advice} before ${who} writes to it`);
      }
      fs.rmSync(lockPath, { force: true }); // stale: its process is gone
      attempt++;
    }
  }
  throw new StorageError('LOCKED', `cannot take the writer lock ${lockPath}: it keeps reappearing`);
}
