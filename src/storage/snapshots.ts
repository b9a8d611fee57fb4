/**
 * Local snapshots: an online backup (SQLite's backup API, through better-sqlite3) to
 * `NAME.snapshot-<timestamp>` beside the database. The newest N are kept; an older one is removed
 * only after the new one has passed `quick_check`, so there is always a good one to restore.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

const SNAPSHOT_MARK = '.snapshot-';

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace('.', '');
}

/** Snapshot files of `dbPath`, newest first (the timestamp in the name sorts lexically). */
export function listSnapshots(dbPath: string): string[] {
  const dir = path.dirname(path.resolve(dbPath));
  const prefix = path.basename(dbPath) + SNAPSHOT_MARK;
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.startsWith(prefix) && !n.endsWith('-wal') && !n.endsWith('-shm') && !n.endsWith('.tmp'))
    .sort()
    .reverse()
    .map((n) => path.join(dir, n));
}

/** `quick_check` of a file opened read-only: 'ok' or a description of what is wrong. */
export function quickCheckFile(file: string): string {
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const rows = db.pragma('quick_check(5)') as { quick_check: string }[];
    return rows.map((r) => r.quick_check).join('; ');
  } catch (err) {
    return (err as Error).message;
  } finally {
    db?.close();
  }
}

export interface SnapshotResult {
  /** The new snapshot, or null when it failed its check (and was removed). */
  path: string | null;
  bytes: number;
  removed: string[];
  check: string;
}

/**
 * Backs `db` up to a new snapshot beside `dbPath`, verifies it, then prunes to the newest `keep`.
 * The backup is written to a temporary name and renamed, so a crash never leaves a half snapshot
 * under a snapshot name.
 */
export async function takeSnapshot(db: Database.Database, dbPath: string, keep: number, now = Date.now()): Promise<SnapshotResult> {
  const target = `${path.resolve(dbPath)}${SNAPSHOT_MARK}${stamp(now)}`;
  const tmp = `${target}.tmp`;
  await db.backup(tmp);
  const check = quickCheckFile(tmp);
  if (check !== 'ok') {
    fs.rmSync(tmp, { force: true });
    return { path: null, bytes: 0, removed: [], check };
  }
  const bytes = fs.statSync(tmp).size;
  fs.renameSync(tmp, target);
  const removed: string[] = [];
  for (const old of listSnapshots(dbPath).slice(Math.max(1, keep))) {
    fs.rmSync(old, { force: true });
    removed.push(old);
  }
  return { path: target, bytes, removed, check };
}

/** The newest snapshot that passes quick_check, or null. */
export function newestGoodSnapshot(dbPath: string): string | null {
  for (const snap of listSnapshots(dbPath)) if (quickCheckFile(snap) === 'ok') return snap;
  return null;
}
