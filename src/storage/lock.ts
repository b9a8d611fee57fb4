/**
 * The writer lock: one process at a time writes profiles into a database.
 *
 * The daemon writes absolute values from its memory and folds the journal from its memory, so a
 * second writer (e.g. `sensorctl seed` while sensord runs) would be overwritten or lost. The daemon
 * holds `NAME.lock` (its pid) while it runs; other writers check it first. A lock left by a process
 * that no longer exists (kill -9, power cut) is taken over.
 */
import fs from 'node:fs';
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

/** The pid of the live process holding the writer lock of `dbPath`, or null. */
export function writerLockHolder(dbPath: string): number | null {
  let text: string;
  try {
    text = fs.readFileSync(`${dbPath}.lock`, 'utf8');
  } catch {
    return null;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return alive(pid) && pid !== process.pid ? pid : null;
}

/**
 * Takes the writer lock of `dbPath`, or throws StorageError('LOCKED') naming the process that holds
 * it. Release it at shutdown (it is also safe to leave behind: a dead holder's lock is taken over).
 */
export function acquireWriterLock(dbPath: string, who = 'this process'): WriterLock {
  const lockPath = `${dbPath}.lock`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(lockPath, 'wx');
      fs.writeSync(fd, `${process.pid}\n`);
      fs.closeSync(fd);
      let released = false;
      return {
        path: lockPath,
        release: () => {
          if (released) return;
          released = true;
          try {
            if (fs.readFileSync(lockPath, 'utf8').trim() === String(process.pid)) fs.rmSync(lockPath, { force: true });
          } catch { /* already gone */ }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new StorageError('OPEN_FAILED', `cannot create lock file ${lockPath}: ${(err as Error).message}`);
      }
      const holder = writerLockHolder(dbPath);
      if (holder !== null) {
        throw new StorageError('LOCKED', `database ${dbPath} is in use by another writer (pid ${holder}, e.g. a running sensord); stop it before ${who} writes to it`);
      }
      fs.rmSync(lockPath, { force: true }); // stale: its process is gone
    }
  }
  throw new StorageError('LOCKED', `cannot take the writer lock ${lockPath}: it keeps reappearing`);
}
