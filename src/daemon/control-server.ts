/**
 * The daemon's local control socket, used by sensorctl while sensord runs.
 *
 * Where: `control_socket` from the config when set; else `$RUNTIME_DIRECTORY/control.sock` (systemd's
 * RuntimeDirectory=); else `<db path>.sock` beside the database. The socket is created with mode
 * 0660 (access is given by the group the daemon runs as). Its path is also written to the
 * database's meta table (key `control_socket`), so sensorctl finds a daemon whose runtime
 * directory it does not know rather than writing behind its back.
 *
 * Protocol: newline-delimited JSON, one request per line, answered in order by one line each.
 *   request:  {"id": <any>, "op": "<name>", ...arguments}
 *   response: {"id": <same>, "ok": true, "result": {...}}
 *          or {"id": <same>, "ok": false, "error": {"code": "BAD_REQUEST|BUSY|INVALID|IO|STOPPING", "message": "..."}}
 * Operations:
 *   status                       live counters (capture, profiles, flushes, flash bytes today)
 *   flush                        flush now; result: the flush report
 *   alerts.follow                ok, then one line {"event":"alert","alert":{...}} per new alert until the client hangs up
 *   seed.begin {file_digest, source, force, dry_run}
 *                                opens a merge session on this connection (one at a time per daemon);
 *                                result {"already": true, "applied_at", "rows"} when the ledger knows file_digest
 *                                (and not force): nothing more to send
 *   seed.rows {rows: [[anchor_key, companion_key, count, total_seen, last_updated], ...]}
 *                                rows in (anchor, companion) order, every anchor whole within one request,
 *                                total_seen being the anchor's total in the source; held until the commit
 *   seed.commit {digest, sensor_id, rows}
 *                                the content digest the client computed while sending; when the ledger holds it
 *                                (and not force) the rows are dropped: {"outcome": "already"}; else they are
 *                                merged into the live profiles, the ledger rows recorded and a flush run:
 *                                {"outcome": "applied", "stats": {...}} (dry_run: statistics only)
 * A session whose connection closes before seed.commit is dropped: nothing of it is applied.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AlertRecord } from '../anomaly/alert.js';
import type { BehaviorProfileEntry, BehaviorProfiler } from '../anomaly/profiler.js';
import type { Logger, SensorDb } from '../storage/db.js';
import type { FlushReport, Persister } from '../storage/persister.js';
import type { MqttPublisher, PublisherStatus } from '../mqtt/publisher.js';
import {
  EARLIEST_TIMESTAMP, MAX_COUNT, MAX_KEY_BYTES, emptyStats, ledgerLookup, ledgerRecord, type MergeStats, type ScanResult,
} from '../storage/seed.js';
import type { SensorConfig } from './config.js';

export const CONTROL_SOCKET_NAME = 'control.sock';
/** Longest request line accepted (a seed.rows chunk is far smaller). */
export const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
/** A follower that lets this much output pile up is disconnected. */
const MAX_FOLLOWER_BACKLOG = 4 * 1024 * 1024;
/** A content digest (64 hex) or a file digest (`sqlite:`/`jsonl:` + 64 hex). */
const DIGEST_RE = /^(?:[a-z]+:)?[0-9a-f]{64}$/;

/** The longest unix socket path Linux takes (sun_path is 108 bytes with its terminating NUL). */
const MAX_SOCKET_PATH_BYTES = 107;

/**
 * `<db>.sock` beside the database; where that is too long for a unix socket, a short name in the
 * temporary directory derived from the database's real path, so sensorctl derives the same one.
 */
export function socketBesideDb(dbPath: string): string {
  const beside = `${path.resolve(dbPath)}.sock`;
  if (Buffer.byteLength(beside) <= MAX_SOCKET_PATH_BYTES) return beside;
  let real = path.resolve(dbPath);
  try { real = fs.realpathSync(real); } catch { /* not there yet */ }
  return path.join(os.tmpdir(), `sensor-${createHash('sha256').update(real).digest('hex').slice(0, 16)}.sock`);
}

/** The socket path the daemon listens on. */
export function controlSocketPath(config: Pick<SensorConfig, 'control_socket'>, dbPath: string, env: NodeJS.ProcessEnv = process.env): string {
  if (config.control_socket) return path.resolve(config.control_socket);
  const runtime = env.RUNTIME_DIRECTORY?.split(':')[0];
  if (runtime) return path.join(runtime, CONTROL_SOCKET_NAME);
  return socketBesideDb(dbPath);
}

/** Paths sensorctl tries, in order: the explicit one, the runtime directory, the hint in the database, beside the database. */
export function controlSocketCandidates(
  config: Pick<SensorConfig, 'control_socket'>, dbPath: string, metaHint: string | null, env: NodeJS.ProcessEnv = process.env,
): string[] {
  if (config.control_socket) return [path.resolve(config.control_socket)];
  const out: string[] = [];
  const runtime = env.RUNTIME_DIRECTORY?.split(':')[0];
  if (runtime) out.push(path.join(runtime, CONTROL_SOCKET_NAME));
  if (metaHint) out.push(metaHint);
  out.push(socketBesideDb(dbPath));
  return [...new Set(out)];
}

/** What the control server needs of the daemon (SensorDaemon has all of it). */
export interface ControlTarget {
  store: SensorDb | null;
  profiler: BehaviorProfiler | null;
  persister: Persister | null;
  publisher: MqttPublisher | null;
  readonly startedAt: number;
  readonly isStopping: boolean;
  liveStats(): Record<string, unknown>;
}

/** The publisher's state for `sensorctl status` (snake_case, as the rest of the answer). */
function mqttStatus(s: PublisherStatus): Record<string, unknown> {
  return {
    state: s.state,
    url: s.url,
    protocol: s.protocolVersion === 5 ? '5' : '3.1.1',
    topic_prefix: s.topicPrefix,
    last_error: s.lastError,
    alerts_published: s.alertsPublished,
    outbox_pending: s.outbox.pending,
    outbox_dropped: s.outbox.dropped,
    reconnects: s.reconnects,
  };
}

type ErrorCode = 'BAD_REQUEST' | 'BUSY' | 'INVALID' | 'IO' | 'STOPPING';

class RequestError extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

interface SeedSession {
  fileDigest: string;
  source: string;
  force: boolean;
  dryRun: boolean;
  /** Raw seed.rows lines, parsed again at commit (a string is the most compact way to hold them). */
  chunks: string[];
  received: number;
  lastAnchor: string | null;
  lastCompanion: string | null;
  /** Dry run: statistics computed as rows arrive. */
  stats: MergeStats;
}

interface Connection {
  socket: net.Socket;
  buf: string;
  session: SeedSession | null;
  following: boolean;
}

export interface ControlServerOptions {
  path: string;
  log: Logger;
  /** Mode of the socket file. Default 0o660. */
  mode?: number;
  now?: () => number;
}

export class ControlServer {
  private server: net.Server | null = null;
  private readonly connections = new Set<Connection>();
  private readonly followers = new Set<Connection>();
  private sessionOwner: Connection | null = null;
  private socketIno: number | null = null;
  private closing = false;
  private readonly now: () => number;

  constructor(private readonly target: ControlTarget, private readonly opts: ControlServerOptions) {
    this.now = opts.now ?? Date.now;
  }

  get path(): string {
    return this.opts.path;
  }

  /**
   * Listens. A live socket at the path (another daemon on the same database) is left alone and
   * start() resolves false; a stale one (nobody answers) is replaced. Never throws.
   */
  async start(): Promise<boolean> {
    const file = this.opts.path;
    const log = this.opts.log;
    if (Buffer.byteLength(file) > MAX_SOCKET_PATH_BYTES) {
      log('warn', `control socket path ${file} is too long for a unix socket (max ${MAX_SOCKET_PATH_BYTES} bytes); sensorctl cannot reach this daemon — set control_socket in the config`);
      return false;
    }
    try {
      const st = fs.lstatSync(file);
      if (!st.isSocket()) {
        log('error', `control socket path ${file} exists and is not a socket; not replacing it (sensorctl cannot reach this daemon)`);
        return false;
      }
      if (await answers(file)) {
        log('error', `another process already listens on control socket ${file}; is a second sensord running on the same database?`);
        return false;
      }
      fs.unlinkSync(file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        log('warn', `cannot prepare control socket ${file}: ${(err as Error).message}`);
        return false;
      }
    }
    const server = net.createServer((socket) => this.accept(socket));
    const mode = this.opts.mode ?? 0o660;
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', (err) => {
        log('warn', `control socket ${file} unavailable: ${err.message}`);
        resolve(false);
      });
      // The socket is created with the umask applied: make it never wider than `mode`.
      const previous = process.umask(0o777 & ~mode);
      try {
        server.listen(file, () => resolve(true));
      } finally {
        process.umask(previous);
      }
    });
    if (!ok) return false;
    if (this.closing) {
      // close() was called while we were starting up (a capture that ended at once).
      server.close();
      fs.rmSync(file, { force: true });
      return false;
    }
    try {
      fs.chmodSync(file, mode);
      this.socketIno = fs.statSync(file).ino;
    } catch (err) {
      log('warn', `cannot set the mode of control socket ${file}: ${(err as Error).message}`);
    }
    server.on('error', (err) => log('warn', `control socket error: ${err.message}`));
    this.server = server;
    this.recordHint(file);
    log('info', 'control socket listening', { path: file });
    return true;
  }

  /** Stops listening, hangs up on every client (a seed session without commit is dropped) and removes the socket file. */
  async close(): Promise<void> {
    this.closing = true;
    const server = this.server;
    if (server === null) return;
    this.server = null;
    for (const c of this.connections) c.socket.destroy();
    this.connections.clear();
    this.followers.clear();
    this.sessionOwner = null;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      if (this.socketIno !== null && fs.statSync(this.opts.path).ino === this.socketIno) fs.unlinkSync(this.opts.path);
    } catch {
      /* already gone */
    }
  }

  /** Sends an alert to every `alerts.follow` client. Call from the daemon's onAlert hook. */
  publishAlert(alert: AlertRecord): void {
    if (this.followers.size === 0) return;
    const line = `${JSON.stringify({ event: 'alert', alert })}\n`;
    for (const c of this.followers) {
      if (c.socket.writableLength > MAX_FOLLOWER_BACKLOG) {
        this.opts.log('warn', 'alerts follower is not reading; disconnecting it');
        c.socket.destroy();
        continue;
      }
      c.socket.write(line);
    }
  }

  private recordHint(file: string): void {
    const db = this.target.store?.db;
    if (!db || !db.open) return;
    try {
      const row = db.prepare("SELECT value FROM meta WHERE key = 'control_socket'").get() as { value: string } | undefined;
      if (row?.value !== file) db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('control_socket', ?)").run(file);
    } catch (err) {
      this.opts.log('warn', `cannot record the control socket path in the database: ${(err as Error).message}`);
    }
  }

  private accept(socket: net.Socket): void {
    const conn: Connection = { socket, buf: '', session: null, following: false };
    this.connections.add(conn);
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => this.onData(conn, data));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.connections.delete(conn);
      this.followers.delete(conn);
      if (this.sessionOwner === conn) this.sessionOwner = null;
      conn.session = null;
    });
  }

  private onData(conn: Connection, data: string): void {
    conn.buf += data;
    for (;;) {
      const nl = conn.buf.indexOf('\n');
      if (nl < 0) break;
      const line = conn.buf.slice(0, nl);
      conn.buf = conn.buf.slice(nl + 1);
      if (line.trim() !== '') this.handleLine(conn, line);
      if (conn.socket.destroyed) return;
    }
    if (conn.buf.length > MAX_REQUEST_BYTES) {
      this.reply(conn, null, { code: 'BAD_REQUEST', message: `request longer than ${MAX_REQUEST_BYTES} bytes` });
      conn.socket.end();
      conn.buf = '';
    }
  }

  private reply(conn: Connection, id: unknown, error: { code: ErrorCode; message: string } | null, result?: unknown): void {
    const msg = error ? { id, ok: false, error } : { id, ok: true, result: result ?? {} };
    if (!conn.socket.destroyed) conn.socket.write(`${JSON.stringify(msg)}\n`);
  }

  private handleLine(conn: Connection, line: string): void {
    let req: Record<string, unknown>;
    try {
      const v = JSON.parse(line) as unknown;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
      req = v as Record<string, unknown>;
    } catch {
      this.reply(conn, null, { code: 'BAD_REQUEST', message: 'each request must be one JSON object on one line' });
      return;
    }
    const id = req.id ?? null;
    try {
      const result = this.dispatch(conn, req, line);
      this.reply(conn, id, null, result);
    } catch (err) {
      if (err instanceof RequestError) this.reply(conn, id, { code: err.code, message: err.message });
      else {
        this.opts.log('error', `control request ${String(req.op)} failed: ${(err as Error).message}`);
        this.reply(conn, id, { code: 'IO', message: (err as Error).message });
      }
    }
  }

  private live(): { store: SensorDb; profiler: BehaviorProfiler; persister: Persister } {
    const { store, profiler, persister } = this.target;
    if (this.target.isStopping || !store || !store.db.open || !profiler || !persister) {
      throw new RequestError('STOPPING', 'the sensor is shutting down; try again once it has restarted (or stopped)');
    }
    return { store, profiler, persister };
  }

  private dispatch(conn: Connection, req: Record<string, unknown>, line: string): unknown {
    switch (req.op) {
      case 'status':
        return this.status();
      case 'flush': {
        const report = this.live().persister.flushNow('manual');
        if (!report.ok) throw new RequestError('IO', `flush failed: ${report.error ?? 'unknown error'}`);
        return flushSummary(report);
      }
      case 'alerts.follow':
        conn.following = true;
        this.followers.add(conn);
        return { following: true };
      case 'seed.begin':
        return this.seedBegin(conn, req);
      case 'seed.rows':
        return this.seedRows(conn, req, line);
      case 'seed.commit':
        return this.seedCommit(conn, req);
      default:
        throw new RequestError('BAD_REQUEST', `unknown op ${JSON.stringify(req.op)} (known: status, flush, alerts.follow, seed.begin, seed.rows, seed.commit)`);
    }
  }

  private status(): Record<string, unknown> {
    const t = this.target;
    const p = t.persister?.stats();
    return {
      pid: process.pid,
      started_at: t.startedAt,
      stopping: t.isStopping,
      sensor_id: t.store?.sensorId ?? null,
      db_path: t.store ? path.resolve(t.store.path) : null, // absolute: sensorctl checks it is the database it means
      schema_version: t.store?.schemaVersion ?? null,
      ...t.liveStats(),
      flushes: p?.flushes ?? 0,
      failed_flushes: p?.failedFlushes ?? 0,
      last_flush: p?.lastFlush ? flushSummary(p.lastFlush) : null,
      last_error: p?.lastError ?? null,
      mqtt: t.publisher ? mqttStatus(t.publisher.status()) : null,
      flush_interval_s: p ? p.intervalMs / 1000 : null,
      flash_bytes_today: p?.dayBytes ?? 0,
      proc_write_bytes_today: p?.dayProcWriteBytes ?? null,
      day: p?.day ?? null,
      dirty_rows: p?.dirtyRows ?? 0,
      pending_alerts: p?.pendingAlerts ?? 0,
      last_snapshot: p?.lastSnapshot ?? null,
    };
  }

  private seedBegin(conn: Connection, req: Record<string, unknown>): unknown {
    const { store } = this.live();
    if (conn.session !== null) throw new RequestError('BAD_REQUEST', 'a seed session is already open on this connection');
    if (this.sessionOwner !== null) throw new RequestError('BUSY', 'another seed or import is being applied to this sensor; try again when it has finished');
    const fileDigest = req.file_digest;
    if (typeof fileDigest !== 'string' || !DIGEST_RE.test(fileDigest)) throw new RequestError('BAD_REQUEST', 'seed.begin needs file_digest');
    const force = req.force === true;
    const known = force ? null : ledgerLookup(store.db, fileDigest);
    if (known) return { already: true, applied_at: known.applied_at, rows: known.rows };
    conn.session = {
      fileDigest,
      source: typeof req.source === 'string' ? req.source.slice(0, 200) : '',
      force,
      dryRun: req.dry_run === true,
      chunks: [],
      received: 0,
      lastAnchor: null,
      lastCompanion: null,
      stats: emptyStats(),
    };
    this.sessionOwner = conn;
    return { already: false, ready: true };
  }

  /** Checks a chunk's rows (types, ranges, order, whole anchors); keeps the raw line for the commit. */
  private seedRows(conn: Connection, req: Record<string, unknown>, line: string): unknown {
    const s = conn.session;
    if (s === null) throw new RequestError('BAD_REQUEST', 'seed.rows without seed.begin');
    const rows = req.rows;
    if (!Array.isArray(rows)) throw new RequestError('BAD_REQUEST', 'seed.rows needs rows: an array of [anchor_key, companion_key, count, total_seen, last_updated]');
    const latest = this.now() + 86_400_000;
    const firstAnchor = rows.length > 0 && Array.isArray(rows[0]) ? rows[0][0] : undefined;
    if (firstAnchor !== undefined && firstAnchor === s.lastAnchor) {
      throw new RequestError('BAD_REQUEST', `seed.rows: anchor ${String(firstAnchor)} continues from the previous chunk; send every anchor whole within one chunk`);
    }
    let groupAnchor: string | null = null;
    let groupTotal = 0;
    for (const r of rows as unknown[]) {
      if (!validRow(r, latest)) throw new RequestError('INVALID', `seed.rows: invalid row ${JSON.stringify(r).slice(0, 200)}`);
      const [a, c, count, total] = r;
      if (s.lastAnchor !== null && (a < s.lastAnchor || (a === s.lastAnchor && c <= s.lastCompanion!))) {
        throw new RequestError('INVALID', 'seed.rows: rows out of (anchor, companion) order');
      }
      if (a === groupAnchor && total !== groupTotal) throw new RequestError('INVALID', `seed.rows: rows of ${a} disagree on the anchor's total`);
      groupAnchor = a;
      groupTotal = total;
      s.lastAnchor = a;
      s.lastCompanion = c;
      s.received++;
      if (s.dryRun) this.countRow(s.stats, a, c, count, total, s);
    }
    if (!s.dryRun) s.chunks.push(line);
    return { received: s.received };
  }

  /** Dry-run statistics against the live profiles, as the merge would count them. */
  private countRow(stats: MergeStats, a: string, c: string, count: number, total: number, s: SeedSession & { statsAnchor?: string }): void {
    if (count === 0) {
      stats.skipped++;
      return;
    }
    const profiler = this.live().profiler;
    if (s.statsAnchor !== a) {
      s.statsAnchor = a;
      stats.anchors++;
      stats.totalAdded += total;
      if (profiler.totalOf(a) === 0) stats.anchorsNew++;
    }
    stats.rows++;
    stats.countAdded += count;
    if (profiler.countOf(a, c) > 0) stats.rowsAdded++;
    else stats.rowsNew++;
  }

  private seedCommit(conn: Connection, req: Record<string, unknown>): unknown {
    const s = conn.session;
    if (s === null) throw new RequestError('BAD_REQUEST', 'seed.commit without seed.begin');
    conn.session = null;
    this.sessionOwner = null;
    const { store, profiler, persister } = this.live();
    const digest = req.digest;
    const sensorId = req.sensor_id ?? null;
    if (typeof digest !== 'string' || !DIGEST_RE.test(digest)) throw new RequestError('BAD_REQUEST', 'seed.commit needs digest (64 hex digits)');
    if (sensorId !== null && (typeof sensorId !== 'string' || sensorId.length > 64)) throw new RequestError('BAD_REQUEST', 'seed.commit: sensor_id must be a string or null');
    if (req.rows !== s.received) throw new RequestError('INVALID', `seed.commit: ${s.received} rows received, ${String(req.rows)} sent; nothing applied`);
    const scan = { digest, fileDigest: s.fileDigest, sensorId: sensorId as string | null, rows: s.received };
    const previous = ledgerLookup(store.db, digest);
    if (s.dryRun) {
      return { outcome: previous && !s.force ? 'already' : 'dry-run', stats: s.stats, applied_at: previous?.applied_at ?? null };
    }
    if (previous && !s.force) {
      // The same profiles from another file: remember this file as well.
      try {
        store.db.transaction(() => ledgerRecord(store.db, scan, previous.applied_at, false))();
      } catch { /* only a shortcut */ }
      return { outcome: 'already', applied_at: previous.applied_at, stats: emptyStats() };
    }
    // Ledger first: should the flush below fail, the merged rows stay dirty in memory and every
    // later flush retries them, so the ledger and the counts converge; the reverse order could
    // leave counts on disk without their ledger row and let the same source be added twice.
    try {
      store.db.transaction(() => ledgerRecord(store.db, scan, this.now()))();
    } catch (err) {
      throw new RequestError('IO', `cannot record the seed in the ledger, nothing applied: ${(err as Error).message}`);
    }
    const stats = emptyStats();
    const rowsBefore = profiler.rowCount;
    for (const line of s.chunks) {
      const rows = (JSON.parse(line) as { rows: [string, string, number, number, number][] }).rows;
      const entries: BehaviorProfileEntry[] = [];
      let anchor: string | null = null;
      for (const [a, c, count, total, updated] of rows) {
        if (count === 0) {
          stats.skipped++;
          continue;
        }
        if (a !== anchor) {
          anchor = a;
          stats.anchors++;
          stats.totalAdded += total;
          if (profiler.totalOf(a) === 0) stats.anchorsNew++;
        }
        stats.rows++;
        stats.countAdded += count;
        if (profiler.countOf(a, c) > 0) stats.rowsAdded++;
        else stats.rowsNew++;
        entries.push({ anchor_key: a, companion_key: c, count, total_seen: total, last_updated: updated });
      }
      // Every anchor is whole within one chunk, so each merge adds an anchor's total exactly once.
      profiler.merge(entries);
    }
    s.chunks.length = 0;
    // The caps hold during a merge too: what did not fit was evicted (the least recently updated rows).
    const droppedByCaps = Math.max(0, rowsBefore + stats.rowsNew - profiler.rowCount);
    if (droppedByCaps > 0) {
      this.opts.log('warn', `the merge took the profiles past their caps: ${droppedByCaps} least recently updated rows were dropped (caps.max_anchors ${profiler.maxAnchors}, caps.max_companions_per_anchor ${profiler.maxCompanionsPerAnchor})`);
    }
    const report = persister.flushNow('manual');
    this.opts.log('info', `merged ${stats.rows} profile rows from ${s.source || 'a seed'} (${stats.rowsNew} new, ${stats.rowsAdded} added to)`, {
      digest: digest.slice(0, 16), source_sensor_id: scan.sensorId ?? undefined, flushed: report.ok,
    });
    if (!report.ok) {
      throw new RequestError('IO', `merged into the running sensor and recorded, but the flush failed (${report.error ?? 'unknown error'}); ` +
        'the sensor keeps the rows in memory and retries at every flush');
    }
    return { outcome: 'applied', stats, flush: flushSummary(report), dropped_by_caps: droppedByCaps };
  }
}

function validRow(r: unknown, latest: number): r is [string, string, number, number, number] {
  if (!Array.isArray(r) || r.length !== 5) return false;
  const [a, c, count, total, updated] = r as unknown[];
  return typeof a === 'string' && a.length <= MAX_KEY_BYTES && typeof c === 'string' && c.length <= MAX_KEY_BYTES &&
    Number.isSafeInteger(count) && (count as number) >= 0 && (count as number) <= MAX_COUNT &&
    Number.isSafeInteger(total) && (total as number) >= (count as number) && (total as number) <= MAX_COUNT &&
    Number.isSafeInteger(updated) && (updated as number) >= EARLIEST_TIMESTAMP && (updated as number) <= latest;
}

function flushSummary(r: FlushReport): Record<string, unknown> {
  return { ok: r.ok, at: r.at, reason: r.reason, idle: r.idle, rows: r.rows, deletes: r.deletes, alerts: r.alerts, bytes: r.bytes, ms: Math.round(r.durationMs), error: r.error ?? null };
}

/** True when something accepts connections on the socket at `file`. */
function answers(file: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(file);
    const done = (v: boolean) => {
      s.destroy();
      resolve(v);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    setTimeout(() => done(false), 1000).unref();
  });
}
