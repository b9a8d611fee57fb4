/**
 * The alerts table: append-only inserts (a rowid table, so new alerts land on its last page) and
 * pruning to a number of rows and days, so the table stays bounded for years.
 */
import type Database from 'better-sqlite3';
import type { AlertRecord } from '../anomaly/alert.js';

export interface AlertRetention {
  maxRows: number;
  maxDays: number;
}

export class AlertStore {
  private readonly insert: Database.Statement;
  private readonly pruneById: Database.Statement;
  private readonly pruneByAge: Database.Statement;
  private readonly oldest: Database.Statement;
  private readonly maxId: Database.Statement;

  constructor(readonly db: Database.Database) {
    this.insert = db.prepare('INSERT INTO alerts (created_at, severity, kind, anchor, companion, payload) VALUES (?, ?, ?, ?, ?, ?)');
    // ids only ever grow and rows are removed from the low end, so an id range is a row count.
    this.pruneById = db.prepare('DELETE FROM alerts WHERE id <= ?');
    this.pruneByAge = db.prepare('DELETE FROM alerts WHERE created_at < ?');
    this.oldest = db.prepare('SELECT MIN(created_at) AS t FROM alerts');
    this.maxId = db.prepare('SELECT MAX(id) AS m FROM alerts');
  }

  /** Inserts alerts (call inside a transaction); `createdAt` is the time each was raised. */
  insertAll(alerts: readonly { record: AlertRecord; createdAt: number }[]): number {
    for (const { record, createdAt } of alerts) {
      const a = record.alert;
      this.insert.run(createdAt, a.severity, a.kind, a.anchor, a.companion, JSON.stringify(record));
    }
    return alerts.length;
  }

  /** True when pruning would delete something (a read; lets an idle sensor skip the write). */
  needsPrune(retention: AlertRetention, nowMs: number): boolean {
    const t = (this.oldest.get() as { t: number | null }).t;
    if (t !== null && t < nowMs - retention.maxDays * 86_400_000) return true;
    const m = (this.maxId.get() as { m: number | null }).m;
    if (m === null) return false;
    const c = this.db.prepare('SELECT COUNT(*) AS n FROM alerts').get() as { n: number };
    return c.n > retention.maxRows;
  }

  /** Deletes alerts beyond the retention (call inside a transaction). Returns rows deleted. */
  prune(retention: AlertRetention, nowMs: number): number {
    let deleted = this.pruneByAge.run(nowMs - retention.maxDays * 86_400_000).changes;
    const m = (this.maxId.get() as { m: number | null }).m;
    if (m !== null) deleted += this.pruneById.run(m - retention.maxRows).changes;
    return deleted;
  }
}
