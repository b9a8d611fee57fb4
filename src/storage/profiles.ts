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
  /** `journaled`: the row came from the journal, so the base table does not hold this value yet. */
  loadRow(anchorKey: string, companion: string, count: number, totalSeen: number, lastUpdated: number, journaled: boolean): void;
  unloadRow(anchorKey: string, companion: string): void;
  unloadAnchor(anchorKey: string): void;
  finishLoad(): void;
  /** Optional: room for this many rows is about to be needed. */
  reserve?(rows: number): void;
}

const LOAD_CHUNK = 500;

/** Timestamps before 2000-01-01 are not from a sensor (seed and import refuse them). */
export const EARLIEST_TIMESTAMP = Date.UTC(2000, 0, 1);
/** How far ahead of the wall clock a timestamp may be (seed and import refuse later ones). */
export const FUTURE_SLACK_MS = 86_400_000;

/**
 * A profile row's `last_updated` as stored. The profiler stamps rows with capture time, and a
 * replayed capture may come from a device without a clock (1970) or a generator (2105): stored as
 * is, the sensor's own backup would be refused by `seed`. Clamping at the write keeps every row
 * within the range that seed and import accept.
 */
export function storableTimestamp(ms: number, nowMs = Date.now()): number {
  const latest = nowMs + FUTURE_SLACK_MS;
  return ms < EARLIEST_TIMESTAMP ? EARLIEST_TIMESTAMP : ms > latest ? Math.max(EARLIEST_TIMESTAMP, latest) : ms;
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
    if (sink.reserve) {
      const n = this.db.prepare('SELECT (SELECT COUNT(*) FROM behavior_profiles) + (SELECT COUNT(*) FROM profile_journal) AS n').get() as { n: number };
      sink.reserve(n.n);
    }
    // Chunks in key order (keyset pagination on the primary key): all() on a chunk is about twice
    // as fast as stepping an iterator row by row, and a chunk's garbage stays small.
    const first = this.db
      .prepare(`SELECT anchor_key, companion_key, count, total_seen, last_updated FROM behavior_profiles
                ORDER BY anchor_key, companion_key LIMIT ${LOAD_CHUNK}`)
      .raw(true);
    const next = this.db
      .prepare(`SELECT anchor_key, companion_key, count, total_seen, last_updated FROM behavior_profiles
                WHERE (anchor_key, companion_key) > (?, ?) ORDER BY anchor_key, companion_key LIMIT ${LOAD_CHUNK}`)
      .raw(true);
    for (let rows = first.all() as RawRow[]; rows.length > 0;) {
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!;
        sink.loadRow(r[0], r[1], r[2], r[3], r[4], false);
      }
      baseRows += rows.length;
      if (rows.length < LOAD_CHUNK) break;
      const last = rows[rows.length - 1]!;
      rows = next.all(last[0], last[1]) as RawRow[];
    }
    let journalRows = 0;
    const journal = this.db
      .prepare('SELECT seq, op, anchor_key, companion_key, count, total_seen, last_updated FROM profile_journal ORDER BY seq')
      .raw(true);
    for (const r of journal.iterate() as IterableIterator<RawJournalRow>) {
      if (r[1] === OP_UPSERT) sink.loadRow(r[2], r[3], r[4], r[5], r[6], true);
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
    const now = Date.now();
    for (const e of batch.upserts) append.run(OP_UPSERT, e.anchor_key, e.companion_key, e.count, e.total_seen, storableTimestamp(e.last_updated, now));
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
   * Compaction from memory: writes into the base the current value of each row journaled since the
   * last compaction (once per row, however many journal entries it has) and the deletions, then
   * empties the journal. `batch` must describe exactly the journal's net effect (the profiler's
   * `collectFold()` right after a committed flush). Call inside a transaction.
   */
  fold(batch: DirtyBatch): number {
    for (const a of batch.deletedAnchors) this.deleteBaseAnchor.run(a);
    for (const [a, c] of batch.deletedRows) this.deleteBaseRow.run(a, c);
    const now = Date.now();
    for (const e of batch.upserts) this.upsertBase.run(e.anchor_key, e.companion_key, e.count, e.total_seen, storableTimestamp(e.last_updated, now));
    const emptied = this.db.prepare('DELETE FROM profile_journal').run().changes;
    this.baseRowCount = -1;
    this.journalRowCount = 0;
    return emptied;
  }

  /**
   * Folds the journal into the base by replaying it, in journal order, and empties it — for
   * callers without the profile in memory. Call inside a transaction.
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
    const now = Date.now();
    for (const e of entries) {
      this.upsertBase.run(e.anchor_key, e.companion_key, e.count, e.total_seen, storableTimestamp(e.last_updated, now));
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
