/**
 * The persist loop: every flush interval, write what changed — and nothing when nothing did.
 *
 * One flush is one transaction with statements prepared once: the profiler's dirty rows are
 * appended to the profile journal, pending alerts are inserted, the alerts table is pruned. Only
 * after the commit are the rows forgotten as dirty; a failed flush (full disk, I/O error) rolls
 * back, keeps everything in memory, logs one clear line, and the next flush retries.
 *
 * After each commit: compaction when the journal is due, a passive checkpoint (the WAL is cut
 * back if a reader had made it grow), and write accounting — per flush (rows, pages, bytes into
 * the database files) and per UTC day (those bytes, and /proc/self/io write_bytes). A write budget
 * in MB/day stretches the interval, up to a maximum, while it is being exceeded.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { AlertRecord } from '../anomaly/alert.js';
import { SEVERITY_RANK, type BehaviorProfiler, type DirtyBatch } from '../anomaly/profiler.js';
import type { Logger, SensorDb } from './db.js';
import { silentLogger } from './db.js';
import { AlertStore } from './alerts.js';
import { ProfileStore } from './profiles.js';
import { takeSnapshot, listSnapshots } from './snapshots.js';
import { WalMeter, readProcIo, type ProcIo } from './wal.js';

export interface PersisterOptions {
  /** Default 30 s. Fractions of a second are allowed (tests). */
  flushIntervalMs?: number;
  /** The most the write budget may stretch the interval to. Default max(10 min, flushIntervalMs). */
  maxIntervalMs?: number;
  /** Bytes into the database files per UTC day, in MB (10^6). 0 = no budget. Default 256. */
  writeBudgetMbPerDay?: number;
  /** Alerts kept in the table. Defaults 10,000 rows and 30 days. */
  alertMaxRows?: number;
  alertMaxDays?: number;
  /** Alerts of severity high or above are written within this delay, not at the next flush. Default 1 s. */
  urgentAlertDelayMs?: number;
  /** Alerts waiting in memory beyond this are dropped oldest first (counted). Default 10,000. */
  maxPendingAlerts?: number;
  /** Fold the journal into the base once it holds this many rows per base row... Default 1. */
  compactRatio?: number;
  /** ...and at least this many rows. Default 20,000. */
  compactMinRows?: number;
  /**
   * A flush whose changed rows reach this fraction of the base table writes them straight into the
   * base (folding the journal in the same transaction): with that many rows changed, nearly every
   * base page is rewritten anyway, and journaling them first would only add a second copy. Default 0.25.
   */
  directFraction?: number;
  /** Fold the journal into the base at stop(). Default true. */
  compactOnStop?: boolean;
  /** Snapshot every this often (when profiles changed since the last one). 0 disables. Default 24 h. */
  snapshotIntervalMs?: number;
  /** Snapshots kept. Default 3. */
  snapshotKeep?: number;
  /** Written (atomically) after each flush with `stats()`, e.g. on /run (tmpfs). */
  statusFile?: string;
  log?: Logger;
  now?: () => number;
}

export type FlushReason = 'timer' | 'manual' | 'stop' | 'alerts';

export interface FlushReport {
  ok: boolean;
  /** One line a person can act on, when !ok. */
  error?: string;
  reason: FlushReason;
  /** Epoch ms when the flush started. */
  at: number;
  /** Nothing was due, so nothing was written (not even a checkpoint). */
  idle: boolean;
  /** 'journal': changed rows appended to the journal; 'direct': written into the base table. */
  mode: 'journal' | 'direct';
  /** Profile rows written (upserts) and deletions (evicted rows/anchors). */
  rows: number;
  deletes: number;
  alerts: number;
  prunedAlerts: number;
  /** Journal rows folded into the base by a compaction after this flush (0 if none). */
  compacted: number;
  /** Frames appended to the WAL, pages copied into the database file, and their sum. */
  walFrames: number;
  checkpointedPages: number;
  pages: number;
  /** Bytes written to the database files (WAL + main file) by this flush. */
  bytes: number;
  /** /proc/self/io write_bytes during the flush; null where unavailable. */
  procWriteBytes: number | null;
  durationMs: number;
  walFileBytes: number;
  /** UTC day (YYYY-MM-DD) and its totals so far. */
  day: string;
  dayBytes: number;
  dayProcWriteBytes: number | null;
  /** The interval until the next flush. */
  intervalMs: number;
}

export interface PersisterStats {
  flushes: number;
  failedFlushes: number;
  consecutiveFailures: number;
  lastFlush: FlushReport | null;
  lastError: string | null;
  day: string;
  dayBytes: number;
  dayProcWriteBytes: number | null;
  totalBytes: number;
  intervalMs: number;
  baseIntervalMs: number;
  maxIntervalMs: number;
  writeBudgetBytesPerDay: number;
  dirtyRows: number;
  profileRows: number;
  journalRows: number;
  baseRows: number;
  pendingAlerts: number;
  droppedAlerts: number;
  lastSnapshot: string | null;
  walFileBytes: number;
}

const DAY_MS = 86_400_000;
const HIGH = SEVERITY_RANK.high;

function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A one-line description of a storage failure; full disk and I/O errors are named as such. */
export function describeWriteError(err: unknown, dbPath: string): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'SQLITE_FULL' || /ENOSPC/.test(msg)) return `disk full writing ${dbPath} (${code || 'ENOSPC'}): ${msg}`;
  if (code.startsWith('SQLITE_IOERR')) return `I/O error writing ${dbPath} (${code}): ${msg}`;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') return `database ${dbPath} is locked by another process (${code}): ${msg}`;
  if (code === 'SQLITE_READONLY') return `database ${dbPath} is read-only (${code}): ${msg}`;
  return `cannot write ${dbPath}${code ? ` (${code})` : ''}: ${msg}`;
}

/** A fold batch extended with a dirty batch (rows in both are written once). */
function withBatch(fold: DirtyBatch, batch: DirtyBatch): DirtyBatch {
  const seen = new Set<number>(fold.slots);
  const upserts = fold.upserts.slice();
  const slots: number[] = Array.from(fold.slots);
  for (let i = 0; i < batch.upserts.length; i++) {
    const slot = batch.slots[i]!;
    if (seen.has(slot)) continue;
    upserts.push(batch.upserts[i]!);
    slots.push(slot);
  }
  return {
    deletedAnchors: [...new Set([...fold.deletedAnchors, ...batch.deletedAnchors])],
    deletedRows: [...fold.deletedRows, ...batch.deletedRows],
    upserts,
    slots: Int32Array.from(slots),
    versions: new Uint32Array(slots.length),
  };
}

export class Persister {
  readonly profiles: ProfileStore;
  readonly alertStore: AlertStore;
  private readonly meter: WalMeter;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly baseIntervalMs: number;
  private readonly maxIntervalMs: number;
  private readonly budgetBytes: number;
  private readonly opts: Required<Omit<PersisterOptions, 'log' | 'now' | 'statusFile' | 'flushIntervalMs' | 'maxIntervalMs' | 'writeBudgetMbPerDay'>> & { statusFile?: string };

  private intervalMs: number;
  private timer: NodeJS.Timeout | null = null;
  private urgentTimer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = false;
  private pendingAlerts: { record: AlertRecord; createdAt: number }[] = [];
  private droppedAlerts = 0;
  private lastPruneCheck = 0;

  private flushes = 0;
  private failedFlushes = 0;
  private consecutiveFailures = 0;
  private lastReport: FlushReport | null = null;
  private lastError: string | null = null;
  private day: string;
  private dayBytes = 0;
  private dayProcWriteBytes: number | null;
  private totalBytes = 0;
  private lastFlushAt: number;
  private rateEma = -1; // bytes per ms

  private snapshotting: Promise<unknown> | null = null;
  private lastSnapshotAt: number;
  private lastSnapshot: string | null = null;
  private changesSinceSnapshot = 0;

  constructor(readonly store: SensorDb, readonly profiler: BehaviorProfiler, options: PersisterOptions = {}) {
    if (store.readonly) throw new Error('Persister needs a writable database');
    this.log = options.log ?? silentLogger;
    this.now = options.now ?? Date.now;
    this.baseIntervalMs = options.flushIntervalMs ?? 30_000;
    if (!(this.baseIntervalMs > 0)) throw new RangeError('flushIntervalMs must be > 0');
    this.maxIntervalMs = Math.max(options.maxIntervalMs ?? 600_000, this.baseIntervalMs);
    this.budgetBytes = (options.writeBudgetMbPerDay ?? 256) * 1e6;
    this.intervalMs = this.baseIntervalMs;
    this.opts = {
      alertMaxRows: options.alertMaxRows ?? 10_000,
      alertMaxDays: options.alertMaxDays ?? 30,
      urgentAlertDelayMs: options.urgentAlertDelayMs ?? 1000,
      maxPendingAlerts: options.maxPendingAlerts ?? 10_000,
      compactRatio: options.compactRatio ?? 1,
      compactMinRows: options.compactMinRows ?? 20_000,
      compactOnStop: options.compactOnStop ?? true,
      directFraction: options.directFraction ?? 0.25,
      snapshotIntervalMs: options.snapshotIntervalMs ?? DAY_MS,
      snapshotKeep: options.snapshotKeep ?? 3,
      statusFile: options.statusFile,
    };
    this.profiles = new ProfileStore(store.db);
    this.alertStore = new AlertStore(store.db);
    this.meter = new WalMeter(store.db, store.path, store.pageSize, store.journalSizeLimit);
    const t = this.now();
    this.day = utcDay(t);
    this.dayProcWriteBytes = readProcIo() === null ? null : 0;
    this.lastFlushAt = t;
    const newest = listSnapshots(store.path)[0];
    this.lastSnapshot = newest ?? null;
    this.lastSnapshotAt = newest ? fs.statSync(newest).mtimeMs : t;
  }

  /** Starts the periodic flush. */
  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.schedule();
  }

  /** Queues an alert for the next flush; high and critical ones are written within a second. */
  addAlert(record: AlertRecord, createdAt = this.now()): void {
    if (this.stopped) return;
    this.pendingAlerts.push({ record, createdAt });
    if (this.pendingAlerts.length > this.opts.maxPendingAlerts) {
      const drop = this.pendingAlerts.length - this.opts.maxPendingAlerts;
      this.pendingAlerts.splice(0, drop);
      this.droppedAlerts += drop;
    }
    if ((SEVERITY_RANK[record.alert.severity] ?? 0) >= HIGH && this.running && this.urgentTimer === null) {
      this.urgentTimer = setTimeout(() => {
        this.urgentTimer = null;
        if (this.pendingAlerts.length > 0) this.flushNow('alerts');
      }, this.opts.urgentAlertDelayMs);
      this.urgentTimer.unref();
    }
  }

  /**
   * Writes everything due now, in one transaction. Never throws for storage failures: the report
   * says what happened, and on failure nothing in memory is forgotten.
   */
  flushNow(reason: FlushReason = 'manual'): FlushReport {
    const at = this.now();
    const t0 = performance.now();
    this.rollDay(at);
    const alertsOnly = reason === 'alerts';
    const batch = alertsOnly ? null : this.profiler.collectDirty();
    const alerts = this.pendingAlerts.slice();
    const changes = batch ? batch.upserts.length + batch.deletedAnchors.length + batch.deletedRows.length : 0;
    let prune = alerts.length > 0;
    if (!prune && at - this.lastPruneCheck >= 3_600_000) {
      this.lastPruneCheck = at;
      prune = this.alertStore.needsPrune(this.retention, at);
    }
    const compactDue = !alertsOnly && (changes > 0 || reason === 'stop') && this.compactDue(reason);

    if (changes === 0 && alerts.length === 0 && !prune && !compactDue) {
      return this.finish(this.emptyReport(reason, at, t0));
    }

    const io0 = readProcIo();
    let prunedAlerts = 0;
    const direct = batch !== null && batch.upserts.length > 0 &&
      batch.upserts.length >= this.opts.directFraction * this.profiles.counts.base;
    const fold = direct ? withBatch(this.profiler.collectFold(), batch) : null;
    let folded = 0;
    try {
      this.store.db.transaction(() => {
        if (fold) folded = this.profiles.fold(fold);
        else if (batch) this.profiles.appendBatch(batch);
        this.alertStore.insertAll(alerts);
        if (prune) prunedAlerts = this.alertStore.prune(this.retention, at);
      })();
    } catch (err) {
      this.profiles.invalidateCounts();
      return this.finish(this.failure(reason, at, t0, err));
    }
    if (batch) this.profiler.commitDirty(batch);
    if (fold) this.profiler.commitFold(fold);
    this.pendingAlerts.splice(0, alerts.length);
    this.changesSinceSnapshot += changes;
    this.lastPruneCheck = prune ? at : this.lastPruneCheck;

    let compacted = folded;
    if (!direct && (compactDue || (batch && this.compactDue(reason)))) {
      try {
        // Nothing is dirty here (the flush just committed, synchronously), so the profiler's view
        // of the journaled rows is exactly the journal's net effect.
        const fold = this.profiler.collectFold();
        this.store.db.transaction(() => { compacted = this.profiles.fold(fold); })();
        this.profiler.commitFold(fold);
      } catch (err) {
        this.profiles.invalidateCounts();
        compacted = 0;
        this.log('warn', `journal compaction failed, will retry: ${describeWriteError(err, this.store.path)}`);
      }
    }

    let wal;
    try {
      wal = this.meter.checkpointAndMeasure();
    } catch (err) {
      // The flush is committed (and fsynced) in the WAL; the checkpoint is retried next time.
      this.log('warn', `checkpoint failed, the flush itself is committed: ${describeWriteError(err, this.store.path)}`);
      wal = { walFrames: 0, checkpointedPages: 0, bytes: 0, busy: true, walFileBytes: this.meter.walFileBytes(), truncated: false };
    }
    const io1 = readProcIo();
    const procWriteBytes = io0 && io1 ? io1.write_bytes - io0.write_bytes : null;
    // A flush an operator asked for (a seed or import through the socket, an export's pre-flush)
    // writes a one-off burst: counted in the day's bytes, but not as the sustained rate the
    // interval is planned from (a seed a minute after start projected 73 MB/day and stretched it).
    this.account(at, wal.bytes, procWriteBytes, reason !== 'manual');
    this.consecutiveFailures = 0;
    this.flushes++;
    const report: FlushReport = {
      ok: true,
      reason,
      at,
      idle: false,
      mode: direct ? 'direct' : 'journal',
      rows: batch ? batch.upserts.length : 0,
      deletes: batch ? batch.deletedAnchors.length + batch.deletedRows.length : 0,
      alerts: alerts.length,
      prunedAlerts,
      compacted,
      walFrames: wal.walFrames,
      checkpointedPages: wal.checkpointedPages,
      pages: wal.walFrames + wal.checkpointedPages,
      bytes: wal.bytes,
      procWriteBytes,
      durationMs: performance.now() - t0,
      walFileBytes: wal.walFileBytes,
      day: this.day,
      dayBytes: this.dayBytes,
      dayProcWriteBytes: this.dayProcWriteBytes,
      intervalMs: this.intervalMs,
    };
    // At shutdown there is no next interval to plan (and no stretch to log).
    if (!alertsOnly && reason !== 'stop' && reason !== 'manual') this.adjustInterval(at, wal.bytes);
    report.intervalMs = this.intervalMs;
    if (compacted > 0) this.log('info', `folded ${compacted} journal rows into the profile table`);
    return this.finish(report);
  }

  /** Final flush (always, whatever the budget); stops the timers. Call before closing the database. */
  stop(): FlushReport {
    this.running = false;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.urgentTimer) clearTimeout(this.urgentTimer);
    this.timer = this.urgentTimer = null;
    const report = this.flushNow('stop');
    if (!report.ok) this.log('error', `final flush failed, changes since the last flush are lost: ${report.error}`);
    return report;
  }

  /** Takes a snapshot now (the daily one runs by itself). Resolves to its path, or null. */
  async snapshotNow(): Promise<string | null> {
    if (this.snapshotting) await this.snapshotting.catch(() => {});
    const at = this.now();
    const job = takeSnapshot(this.store.db, this.store.path, this.opts.snapshotKeep, at);
    this.snapshotting = job;
    try {
      const result = await job;
      this.lastSnapshotAt = at;
      if (result.path) {
        this.changesSinceSnapshot = 0;
        this.lastSnapshot = result.path;
        this.log('info', `snapshot ${result.path} written (${result.bytes} bytes, quick_check ok)` +
          (result.removed.length ? `; removed ${result.removed.map((p) => path.basename(p)).join(', ')}` : ''));
      } else {
        this.log('error', `snapshot failed its quick_check (${result.check}); older snapshots kept`);
      }
      return result.path;
    } catch (err) {
      this.log('error', `snapshot of ${this.store.path} failed: ${(err as Error).message}; older snapshots kept`);
      return null;
    } finally {
      this.snapshotting = null;
    }
  }

  stats(): PersisterStats {
    const counts = this.profiles.counts;
    return {
      flushes: this.flushes,
      failedFlushes: this.failedFlushes,
      consecutiveFailures: this.consecutiveFailures,
      lastFlush: this.lastReport,
      lastError: this.lastError,
      day: this.day,
      dayBytes: this.dayBytes,
      dayProcWriteBytes: this.dayProcWriteBytes,
      totalBytes: this.totalBytes,
      intervalMs: this.intervalMs,
      baseIntervalMs: this.baseIntervalMs,
      maxIntervalMs: this.maxIntervalMs,
      writeBudgetBytesPerDay: this.budgetBytes,
      dirtyRows: this.profiler.dirtyCount,
      profileRows: this.profiler.rowCount,
      journalRows: counts.journal,
      baseRows: counts.base,
      pendingAlerts: this.pendingAlerts.length,
      droppedAlerts: this.droppedAlerts,
      lastSnapshot: this.lastSnapshot,
      walFileBytes: this.meter.walFileBytes(),
    };
  }

  /** The interval currently in force (stretched by the budget). */
  get currentIntervalMs(): number {
    return this.intervalMs;
  }

  // ---- internals ----

  private get retention() {
    return { maxRows: this.opts.alertMaxRows, maxDays: this.opts.alertMaxDays };
  }

  private compactDue(reason: FlushReason): boolean {
    if (reason === 'stop' && this.opts.compactOnStop) return this.profiles.counts.journal > 0;
    return this.profiles.shouldCompact(this.opts.compactRatio, this.opts.compactMinRows);
  }

  private schedule(): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }

  private tick(): void {
    this.timer = null;
    if (!this.running) return;
    this.flushNow('timer');
    const at = this.now();
    if (this.opts.snapshotIntervalMs > 0 && !this.snapshotting && this.changesSinceSnapshot > 0 &&
        at - this.lastSnapshotAt >= this.opts.snapshotIntervalMs && this.consecutiveFailures === 0) {
      void this.snapshotNow();
    }
    this.schedule();
  }

  private rollDay(at: number): void {
    const day = utcDay(at);
    if (day === this.day) return;
    this.log('info', `write accounting for ${this.day}: ${this.dayBytes} bytes to database files` +
      (this.dayProcWriteBytes !== null ? `, ${this.dayProcWriteBytes} bytes written by the process (/proc/self/io)` : ''));
    this.day = day;
    this.dayBytes = 0;
    if (this.dayProcWriteBytes !== null) this.dayProcWriteBytes = 0;
  }

  private account(at: number, bytes: number, procBytes: number | null, sustained = true): void {
    this.dayBytes += bytes;
    this.totalBytes += bytes;
    if (this.dayProcWriteBytes !== null && procBytes !== null) this.dayProcWriteBytes += procBytes;
    if (!sustained) return;
    // Measured over at least one base interval: an early flush (a seed, the shutdown of a short
    // run) would otherwise extrapolate a few KB over a fraction of a second to GB per day.
    const elapsed = Math.max(this.baseIntervalMs, at - this.lastFlushAt);
    const rate = bytes / elapsed;
    this.rateEma = this.rateEma < 0 ? rate : 0.7 * this.rateEma + 0.3 * rate;
    this.lastFlushAt = at;
  }

  /** Stretches the interval while the budget is being exceeded; shrinks it back when well under. */
  private adjustInterval(at: number, _bytes: number): void {
    if (this.budgetBytes <= 0) return;
    const projected = this.rateEma * DAY_MS;
    const dayElapsed = (at % DAY_MS) / DAY_MS;
    const allowedSoFar = this.budgetBytes * (dayElapsed + 0.05);
    const before = this.intervalMs;
    if (this.dayBytes >= this.budgetBytes) this.intervalMs = this.maxIntervalMs;
    else if (projected > this.budgetBytes || this.dayBytes > allowedSoFar) this.intervalMs = Math.min(this.maxIntervalMs, this.intervalMs * 2);
    else if (projected < this.budgetBytes / 2 && this.dayBytes < allowedSoFar / 2) this.intervalMs = Math.max(this.baseIntervalMs, this.intervalMs / 2);
    if (this.intervalMs !== before) {
      const mb = (n: number) => (n / 1e6).toFixed(1);
      this.log(this.intervalMs > before ? 'warn' : 'info',
        `write budget ${mb(this.budgetBytes)} MB/day: ${mb(this.dayBytes)} MB written today, projected ${mb(projected)} MB/day; ` +
        `flush interval ${this.intervalMs > before ? 'stretched' : 'restored'} from ${before / 1000} s to ${this.intervalMs / 1000} s`);
    }
  }

  private emptyReport(reason: FlushReason, at: number, t0: number): FlushReport {
    return {
      ok: true, reason, at, idle: true, mode: 'journal', rows: 0, deletes: 0, alerts: 0, prunedAlerts: 0, compacted: 0,
      walFrames: 0, checkpointedPages: 0, pages: 0, bytes: 0, procWriteBytes: 0,
      durationMs: performance.now() - t0, walFileBytes: this.meter.walFileBytes(),
      day: this.day, dayBytes: this.dayBytes, dayProcWriteBytes: this.dayProcWriteBytes, intervalMs: this.intervalMs,
    };
  }

  private failure(reason: FlushReason, at: number, t0: number, err: unknown): FlushReport {
    this.failedFlushes++;
    this.consecutiveFailures++;
    const error = describeWriteError(err, this.store.path);
    this.lastError = error;
    this.log('error', `flush failed, ${this.profiler.dirtyCount} changed rows and ${this.pendingAlerts.length} alerts kept in memory, ` +
      `retrying in ${this.intervalMs / 1000} s: ${error}`);
    return { ...this.emptyReport(reason, at, t0), ok: false, idle: false, error };
  }

  private finish(report: FlushReport): FlushReport {
    this.lastReport = report;
    if (this.opts.statusFile) this.writeStatus();
    return report;
  }

  private writeStatus(): void {
    const file = this.opts.statusFile!;
    try {
      const tmp = `${file}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(this.stats()) + '\n');
      fs.renameSync(tmp, file);
    } catch (err) {
      this.log('warn', `cannot write status file ${file}: ${(err as Error).message}`);
    }
  }
}

export type { ProcIo };
