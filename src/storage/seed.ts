/**
 * Seeding: adding another sensor's profiles (a backup, a USB stick) into this sensor's database.
 *
 * An additive merge is not idempotent — seeding the same backup twice would double its counts —
 * so every applied source is recorded in `seed_ledger` by a digest of its profile rows (not its
 * path or bytes: a copy of the same backup is the same source), in the same transaction as the
 * rows themselves. Every check is made before anything is written: on any error the destination
 * is untouched.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { BehaviorProfiler } from '../anomaly/profiler.js';
import { openSensorDb, StorageError, type Logger, silentLogger } from './db.js';
import { acquireWriterLock } from './lock.js';
import { ProfileStore, iterateProfiles } from './profiles.js';
import { WalMeter } from './wal.js';

export interface SeedResult {
  /** Source rows added (0 when the source had been applied before). */
  rows: number;
  anchors: number;
  /** sha256 of the source's profile rows, as recorded in seed_ledger. */
  digest: string;
  sourceSensorId: string | null;
  alreadyApplied: boolean;
  /** Bytes written to the destination's database files. */
  bytes: number;
}

export interface SeedOptions {
  /** Apply even if the ledger says this source was applied already. */
  force?: boolean;
  log?: Logger;
  now?: () => number;
}

function sameFile(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a);
    const sb = fs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}

/** Digest of a database's profile rows, in key order. */
export function profilesDigest(db: import('better-sqlite3').Database): { digest: string; rows: number } {
  const hash = crypto.createHash('sha256');
  let rows = 0;
  for (const e of iterateProfiles(db)) {
    hash.update(`${e.anchor_key}\u0000${e.companion_key}\u0000${e.count}\u0000${e.total_seen}\n`);
    rows++;
  }
  return { digest: hash.digest('hex'), rows };
}

/**
 * Adds the profiles of `sourcePath` into the database at `destPath` (created if missing).
 * Throws StorageError: MISSING (no source), SAME_FILE (source is the destination, by any path),
 * NOT_SENSOR_DB / SCHEMA_TOO_NEW (source or destination), LOCKED (a running sensord holds the
 * destination), DISK_FULL / OPEN_FAILED.
 */
export function seedProfiles(destPath: string, sourcePath: string, options: SeedOptions = {}): SeedResult {
  const log = options.log ?? silentLogger;
  const now = options.now ?? Date.now;
  if (!fs.existsSync(sourcePath)) throw new StorageError('MISSING', `seed source ${sourcePath} does not exist`);
  if (!fs.statSync(sourcePath).isFile()) throw new StorageError('NOT_SENSOR_DB', `seed source ${sourcePath} is not a file`);
  if (sameFile(sourcePath, destPath)) {
    throw new StorageError('SAME_FILE', `seed source ${sourcePath} is the destination database itself (${destPath}); nothing to do`);
  }

  const source = openSensorDb(sourcePath, { readonly: true });
  let digest: string;
  let sourceRows: number;
  try {
    ({ digest, rows: sourceRows } = profilesDigest(source.db));
  } finally {
    source.close();
  }

  const lock = acquireWriterLock(destPath, 'sensorctl seed');
  try {
    const dest = openSensorDb(destPath, { log, now });
    try {
      const applied = dest.db.prepare('SELECT applied_at FROM seed_ledger WHERE source_digest = ?').get(digest) as { applied_at: number } | undefined;
      const sourceSensorId = readSensorId(sourcePath);
      if (applied && !options.force) {
        log('info', `seed source ${sourcePath} (sensor ${sourceSensorId ?? 'unknown'}) was applied on ${new Date(applied.applied_at).toISOString()}; not adding it again`);
        return { rows: 0, anchors: 0, digest, sourceSensorId, alreadyApplied: true, bytes: 0 };
      }
      // The whole destination in memory, merged, then written in one transaction with the ledger row.
      const profiler = new BehaviorProfiler({ maxAnchors: Number.MAX_SAFE_INTEGER, maxCompanionsPerAnchor: Number.MAX_SAFE_INTEGER, maxRows: Number.MAX_SAFE_INTEGER });
      const store = new ProfileStore(dest.db);
      store.load(profiler);
      const src = openSensorDb(sourcePath, { readonly: true });
      let merged: { rows: number; anchors: number };
      try {
        merged = profiler.merge(iterateProfiles(src.db));
      } finally {
        src.close();
      }
      const meter = new WalMeter(dest.db, dest.path, dest.pageSize, dest.journalSizeLimit);
      const batch = profiler.collectDirty();
      const fold = profiler.collectFold();
      dest.db.transaction(() => {
        store.fold({ ...fold, upserts: [...fold.upserts, ...batch.upserts] });
        dest.db.prepare('INSERT OR REPLACE INTO seed_ledger (source_digest, source_sensor_id, applied_at, rows) VALUES (?, ?, ?, ?)')
          .run(digest, sourceSensorId, now(), sourceRows);
      })();
      const written = meter.checkpointAndMeasure();
      log('info', `seeded ${merged.rows} rows (${merged.anchors} anchors) from ${sourcePath} into ${destPath}`);
      return { rows: merged.rows, anchors: merged.anchors, digest, sourceSensorId, alreadyApplied: false, bytes: written.bytes };
    } finally {
      dest.close();
    }
  } finally {
    lock.release();
  }
}

function readSensorId(file: string): string | null {
  const db = openSensorDb(file, { readonly: true });
  try {
    return db.sensorId || null;
  } finally {
    db.close();
  }
}
