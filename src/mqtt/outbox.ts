/**
 * The durable alert outbox: alerts wait here, in order, until the broker acknowledges them (PUBACK).
 *
 * Wear on the SD card is the design constraint. An alert is staged in memory and written to the
 * `alert_outbox` table with the next flush (one transaction for all of them); an alert that is
 * acknowledged before that flush is never written at all. Severity high and above is written at once,
 * together with everything staged before it, so row ids stay in arrival order. Rows of delivered
 * alerts are deleted in batches at the next write, not one by one. The table is bounded by row count
 * and age: the oldest rows go first and are counted as dropped.
 *
 * Table (created by the storage migrations):
 *   alert_outbox(id INTEGER PRIMARY KEY AUTOINCREMENT, created_at INTEGER NOT NULL,
 *                severity TEXT NOT NULL, payload TEXT NOT NULL)
 * created_at is milliseconds since the Unix epoch.
 */
import type { Database, Statement } from 'better-sqlite3';
import { SEVERITY_RANK, type Severity } from '../anomaly/profiler.js';

export interface OutboxEntry {
  /** Row id once written to SQLite; null while the alert is only staged in memory. */
  id: number | null;
  /** Milliseconds since the Unix epoch. */
  createdAt: number;
  severity: string;
  /** The alert's JSON, published byte for byte as stored. */
  payload: string;
}

export interface OutboxOptions {
  maxRows: number;
  maxAgeMs: number;
  /** Staged alerts beyond this many are written early, so memory stays bounded in an alert storm. */
  stageLimit?: number;
  now?: () => number;
}

export interface OutboxCounters {
  /** Alerts not yet acknowledged: rows not yet delivered plus staged alerts. */
  pending: number;
  /** Rows removed by the row/age bounds since this process started. */
  dropped: number;
  /** Write transactions committed (each one a flash write). */
  writes: number;
  /** Alerts written to the table. */
  rowsWritten: number;
  /** Alerts acknowledged while still staged, which therefore never touched the flash. */
  neverWritten: number;
}

interface WriteResult {
  ids: number[];
  deleted: number;
  dropped: number;
}

interface Row {
  id: number;
  created_at: number;
  severity: string;
  payload: string;
}

export class AlertOutbox {
  private readonly maxRows: number;
  private readonly maxAgeMs: number;
  private readonly stageLimit: number;
  private readonly now: () => number;

  private readonly insertRow: Statement<[number, string, string]>;
  private readonly selectAfter: Statement<[number, number], Row>;
  private readonly deleteIds: Statement<[string]>;
  private readonly deleteOldest: Statement<[number]>;
  private readonly deleteOlderThan: Statement<[number]>;
  private readonly oldestCreatedAt: Statement<[], { created_at: number }>;
  private readonly write: (staged: OutboxEntry[], acked: number[], trim: boolean) => WriteResult;

  /** Alerts not yet written, in arrival order; the first `stagedTaken` have been handed out. */
  private staged: OutboxEntry[] = [];
  private stagedTaken = 0;
  /** Highest row id handed out; rows above it have not been. */
  private cursor = 0;
  /** False once a read found no rows beyond the cursor, until new rows are written. */
  private tableMayHaveMore = true;
  /** Delivered rows awaiting the next (batched) delete. */
  private acked: number[] = [];
  private rowCount: number;

  private dropped = 0;
  private writes = 0;
  private rowsWritten = 0;
  private neverWritten = 0;

  constructor(db: Database, opts: OutboxOptions) {
    this.maxRows = opts.maxRows;
    this.maxAgeMs = opts.maxAgeMs;
    this.stageLimit = Math.max(1, Math.min(opts.stageLimit ?? 1000, opts.maxRows));
    this.now = opts.now ?? Date.now;

    this.insertRow = db.prepare('INSERT INTO alert_outbox (created_at, severity, payload) VALUES (?, ?, ?)');
    this.selectAfter = db.prepare(
      'SELECT id, created_at, severity, payload FROM alert_outbox WHERE id > ? ORDER BY id LIMIT ?',
    );
    this.deleteIds = db.prepare('DELETE FROM alert_outbox WHERE id IN (SELECT value FROM json_each(?))');
    this.deleteOldest = db.prepare(
      'DELETE FROM alert_outbox WHERE id IN (SELECT id FROM alert_outbox ORDER BY id LIMIT ?)',
    );
    this.deleteOlderThan = db.prepare('DELETE FROM alert_outbox WHERE created_at < ?');
    this.oldestCreatedAt = db.prepare('SELECT created_at FROM alert_outbox ORDER BY id LIMIT 1');
    const count = db.prepare<[], { n: number }>('SELECT count(*) AS n FROM alert_outbox');
    this.rowCount = count.get()!.n;

    // One transaction: all of it lands or none of it. In-memory state changes only after it commits,
    // so a failed write (full disk) leaves every alert staged and nothing half-recorded.
    this.write = db.transaction((staged: OutboxEntry[], acked: number[], trim: boolean): WriteResult => {
      const ids = staged.map((e) => Number(this.insertRow.run(e.createdAt, e.severity, e.payload).lastInsertRowid));
      const deleted = acked.length > 0 ? this.deleteIds.run(JSON.stringify(acked)).changes : 0;
      let dropped = 0;
      if (trim) {
        const cutoff = this.now() - this.maxAgeMs;
        const oldest = this.oldestCreatedAt.get();
        if (oldest !== undefined && oldest.created_at < cutoff) dropped += this.deleteOlderThan.run(cutoff).changes;
        const excess = this.rowCount + ids.length - deleted - dropped - this.maxRows;
        if (excess > 0) dropped += this.deleteOldest.run(excess).changes;
      }
      return { ids, deleted, dropped };
    });
  }

  /**
   * Takes an alert. Severity high and above is on flash before this returns; anything else is staged
   * for the next flush().
   */
  add(payload: string, severity: string, createdAt: number = this.now()): OutboxEntry {
    const entry: OutboxEntry = { id: null, createdAt, severity, payload };
    this.staged.push(entry);
    const durable = isDurableAtOnce(severity);
    if (durable || this.staged.length >= this.stageLimit) {
      try {
        if (durable) this.commit(false);
        else this.flush();
      } catch (err) {
        this.shedStaged();
        throw err;
      }
    }
    return entry;
  }

  /** The next alerts to publish, oldest first, each handed out once (the caller resends on reconnect). */
  take(max: number): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    if (this.tableMayHaveMore && max > 0) {
      const rows = this.selectAfter.all(this.cursor, max);
      for (const r of rows) {
        out.push({ id: r.id, createdAt: r.created_at, severity: r.severity, payload: r.payload });
        this.cursor = r.id;
      }
      if (rows.length < max) this.tableMayHaveMore = false;
    }
    while (out.length < max && this.stagedTaken < this.staged.length) {
      out.push(this.staged[this.stagedTaken++]!);
    }
    return out;
  }

  /** The broker has acknowledged this alert: forget it, deleting its row (if any) with the next write. */
  ack(entry: OutboxEntry): void {
    if (entry.id !== null) {
      this.acked.push(entry.id);
      return;
    }
    // Acknowledgements arrive in publish order, so this is almost always index 0.
    const i = this.staged.indexOf(entry);
    if (i < 0) return;
    this.staged.splice(i, 1);
    if (i < this.stagedTaken) this.stagedTaken--;
    this.neverWritten++;
  }

  /**
   * Writes staged alerts, deletes delivered rows and applies the row/age bounds, in one transaction.
   * Does nothing (no write at all) when there is nothing to do. Returns the rows dropped by the bounds.
   */
  flush(): number {
    if (this.staged.length === 0 && this.acked.length === 0 && !this.needsTrim()) return 0;
    return this.commit(true);
  }

  counters(): OutboxCounters {
    return {
      pending: this.rowCount - this.acked.length + this.staged.length,
      dropped: this.dropped,
      writes: this.writes,
      rowsWritten: this.rowsWritten,
      neverWritten: this.neverWritten,
    };
  }

  private commit(trim: boolean): number {
    const staged = this.staged;
    const acked = this.acked;
    const { ids, deleted, dropped } = this.write(staged, acked, trim);
    this.writes++;
    for (let i = 0; i < staged.length; i++) {
      staged[i]!.id = ids[i]!;
      // Staged alerts are handed out only after every row was, so the taken ones are exactly the
      // next ids: move the cursor past them, and leave the rest to be read back from the table.
      if (i < this.stagedTaken) this.cursor = ids[i]!;
    }
    if (this.stagedTaken < staged.length) this.tableMayHaveMore = true;
    this.staged = [];
    this.stagedTaken = 0;
    this.acked = [];
    this.rowCount += ids.length - deleted - dropped;
    this.rowsWritten += ids.length;
    this.dropped += dropped;
    return dropped;
  }

  /** While writes fail (full disk), memory stays bounded: the oldest alerts not yet handed out go. */
  private shedStaged(): void {
    while (this.staged.length > this.stageLimit && this.stagedTaken < this.staged.length) {
      this.staged.splice(this.stagedTaken, 1);
      this.dropped++;
    }
  }

  private needsTrim(): boolean {
    if (this.rowCount > this.maxRows) return true;
    const oldest = this.oldestCreatedAt.get();
    return oldest !== undefined && oldest.created_at < this.now() - this.maxAgeMs;
  }
}

/**
 * Alerts of severity high or above must survive a power cut from the moment they are raised, so they
 * are written at once. An unknown severity counts as high: losing it would be worse than one write.
 */
export function isDurableAtOnce(severity: string): boolean {
  const rank = SEVERITY_RANK[severity as Severity];
  return rank === undefined || rank >= SEVERITY_RANK.high;
}
