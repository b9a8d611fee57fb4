/**
 * Profile rows on disk: a base table plus an append-only journal.
 *
 * Why a journal: profile keys are hashes, so the rows changed in one flush are scattered over the
 * whole base B-tree. Updating them in place rewrites about one page per changed row — at 1% of
 * 100k rows dirty that is a third of the table each flush. Appending the same rows to
 * `profile_journal` (a rowid table, so appends land on its last pages) writes only about as many
 * bytes as the rows hold. Compaction folds the journal into the base when the journal has grown
 * as large as the base (or on a clean shutdown), so its cost is spread over many flushes.
 *
 * Every journal row carries absolute values, never deltas: replaying a flush twice, or a flush
 * cut short by a crash (its transaction never commits), cannot double a count.
 *
 * The store knows nothing of anomalies beyond the plain entry shape; the profiler is reached
 * through the small `ProfileSink` interface.
 */
import type Database from 'better-sqlite3';
import type { BehaviorProfileEntry, DirtyBatch } from '../anomaly/profiler.js';

/** What loading needs from a profiler (BehaviorProfiler implements it). */
export interface ProfileSink {
  loadRow(anchorKey: string, companion: string, count: number, totalSeen: number, lastUpdated: number): void;
  unloadRow(anchorKey: string, companion: string): void;
  unloadAnchor(anchorKey: string): void;
  finishLoad(): void;
}

export const OP_UPSERT = 0;
export const OP_DELETE_ROW = 1;
export const OP_DELETE_ANCHOR = 2;

export interface LoadReport {
  baseRows: number;
  journalRows: number;
  ms: number;
}

type RawRow = [string, string, number, number, number];
type RawJournalRow = [number, number, string, string, number, number, number];

export class ProfileStore {
  private readonly appendStmt: Database.Statement;
  private readonly upsertBase: Database.Statement;
  private readonly deleteBaseRow: Database.Statement;
  private readonly deleteBaseAnchor: Database.Statement;
  private baseRowCount = -1;
  private journalRowCount = -1;

  constructor(readonly db: Database.Database) {
    this.appendStmt = db.prepare(
      'INSERT INTO profile_journal (op, anchor_key, companion_key, count, total_seen, last_updated) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.upsertBase = db.prepare(
      `INSERT INTO behavior_profiles (anchor_key, companion_key, count, total_seen, last_updated) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (anchor_key, companion_key) DO UPDATE SET
         count = excluded.count, total_seen = excluded.total_seen, last_updated = excluded.last_updated`,
    );
    this.deleteBaseRow = db.prepare('DELETE FROM behavior_profiles WHERE anchor_key = ? AND companion_key = ?');
    this.deleteBaseAnchor = db.prepare('DELETE FROM behavior_profiles WHERE anchor_key = ?');
  }

  /** Rows in the base table and the journal (counted once, then tracked). */
  get counts(): { base: number; journal: number } {
    if (this.baseRowCount < 0) this.baseRowCount = (this.db.prepare('SELECT COUNT(*) AS n FROM behavior_profiles').get() as { n: number }).n;
    if (this.journalRowCount < 0) this.journalRowCount = (this.db.prepare('SELECT COUNT(*) AS n FROM profile_journal').get() as { n: number }).n;
    return { base: this.baseRowCount, journal: this.journalRowCount };
  }

  /** Loads the base, then replays the journal in order, into `sink`. */
  load(sink: ProfileSink): LoadReport {
    const t0 = performance.now();
    let baseRows = 0;
    const base = this.db
      .prepare('SELECT anchor_key, companion_key, count, total_seen, last_updated FROM behavior_profiles')
      .raw(true);
    for (const r of base.iterate() as IterableIterator<RawRow>) {
      sink.loadRow(r[0], r[1], r[2], r[3], r[4]);
      baseRows++;
    }
    let journalRows = 0;
    const journal = this.db
      .prepare('SELECT seq, op, anchor_key, companion_key, count, total_seen, last_updated FROM profile_journal ORDER BY seq')
      .raw(true);
    for (const r of journal.iterate() as IterableIterator<RawJournalRow>) {
      if (r[1] === OP_UPSERT) sink.loadRow(r[2], r[3], r[4], r[5], r[6]);
      else if (r[1] === OP_DELETE_ROW) sink.unloadRow(r[2], r[3]);
      else sink.unloadAnchor(r[2]);
      journalRows++;
    }
    sink.finishLoad();
    this.baseRowCount = baseRows;
    this.journalRowCount = journalRows;
    return { baseRows, journalRows, ms: performance.now() - t0 };
  }

  /** Appends a batch (deletions first). Call inside a transaction. Returns the journal rows written. */
  appendBatch(batch: DirtyBatch): number {
    const append = this.appendStmt;
    for (const a of batch.deletedAnchors) append.run(OP_DELETE_ANCHOR, a, '', 0, 0, 0);
    for (const [a, c] of batch.deletedRows) append.run(OP_DELETE_ROW, a, c, 0, 0, 0);
    for (const e of batch.upserts) append.run(OP_UPSERT, e.anchor_key, e.companion_key, e.count, e.total_seen, e.last_updated);
    const n = batch.deletedAnchors.length + batch.deletedRows.length + batch.upserts.length;
    if (this.journalRowCount >= 0) this.journalRowCount += n;
    return n;
  }

  /** Forget tracked counts (after a failed transaction the cached figures may be wrong). */
  invalidateCounts(): void {
    this.baseRowCount = -1;
    this.journalRowCount = -1;
  }

  /** True when the journal has grown enough that folding it into the base is worth its cost. */
  shouldCompact(ratio: number, minRows: number): boolean {
    const { base, journal } = this.counts;
    return journal > 0 && journal >= Math.max(minRows, ratio * base);
  }

  /**
   * Folds the journal into the base, in journal order, and empties it. Call inside a transaction.
   * Reads the journal in chunks because a statement cannot run while another iterates.
   */
  compact(chunk = 10_000): number {
    const read = this.db
      .prepare('SELECT seq, op, anchor_key, companion_key, count, total_seen, last_updated FROM profile_journal WHERE seq > ? ORDER BY seq LIMIT ?')
      .raw(true);
    let after = -1;
    let applied = 0;
    for (;;) {
      const rows = read.all(after, chunk) as RawJournalRow[];
      if (rows.length === 0) break;
      for (const r of rows) {
        if (r[1] === OP_UPSERT) this.upsertBase.run(r[2], r[3], r[4], r[5], r[6]);
        else if (r[1] === OP_DELETE_ROW) this.deleteBaseRow.run(r[2], r[3]);
        else this.deleteBaseAnchor.run(r[2]);
      }
      applied += rows.length;
      after = rows[rows.length - 1]![0];
    }
    this.db.prepare('DELETE FROM profile_journal').run();
    this.baseRowCount = -1;
    this.journalRowCount = 0;
    return applied;
  }

  /** Writes plain entries straight into the base table (bulk import, tests). Call inside a transaction. */
  writeBase(entries: Iterable<BehaviorProfileEntry>): number {
    let n = 0;
    for (const e of entries) {
      this.upsertBase.run(e.anchor_key, e.companion_key, e.count, e.total_seen, e.last_updated);
      n++;
    }
    this.baseRowCount = -1;
    return n;
  }
}

/**
 * Every current profile row of a database (base ⊕ journal), in (anchor_key, companion_key) order,
 * with `total_seen` set to the anchor's total on every row. Streams: memory does not grow with the
 * table (when the journal is not empty, SQLite sorts in its own bounded memory).
 */
export function* iterateProfiles(db: Database.Database): IterableIterator<BehaviorProfileEntry> {
  const journalEmpty = db.prepare('SELECT 1 FROM profile_journal LIMIT 1').get() === undefined;
  const sql = journalEmpty
    ? `SELECT anchor_key, companion_key, count, MAX(total_seen) OVER (PARTITION BY anchor_key) AS total_seen, last_updated
       FROM behavior_profiles ORDER BY anchor_key, companion_key`
    : 'SELECT anchor_key, companion_key, count, total_seen, last_updated FROM behavior_profiles_current ORDER BY anchor_key, companion_key';
  const stmt = db.prepare(sql).raw(true);
  for (const r of stmt.iterate() as IterableIterator<RawRow>) {
    yield { anchor_key: r[0], companion_key: r[1], count: r[2], total_seen: r[3], last_updated: r[4] };
  }
}

/** Loads a database's profiles into a profiler-like sink (start-up). */
export function loadProfiles(db: Database.Database, sink: ProfileSink): LoadReport {
  return new ProfileStore(db).load(sink);
}
