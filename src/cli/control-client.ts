/**
 * sensorctl's side of the control socket (protocol in src/daemon/control-server.ts): finds a
 * running daemon, sends requests one at a time, receives events.
 *
 * A daemon counts as "not running" only when no candidate socket exists or nobody accepts on it
 * (a stale socket left by a crash). Any other failure — permission denied, a timeout — is an
 * error, never a reason to write the database behind a running daemon's back.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { controlSocketCandidates } from '../daemon/control-server.js';
import type { SensorConfig } from '../daemon/config.js';

export type ControlErrorCode = 'BAD_REQUEST' | 'BUSY' | 'INVALID' | 'IO' | 'STOPPING' | 'PERMISSION' | 'GONE' | 'TIMEOUT' | 'WRONG_DAEMON';

export class ControlError extends Error {
  /** WRONG_DAEMON: the database the daemon on the socket serves. */
  servedDb?: string;

  constructor(readonly code: ControlErrorCode, message: string) {
    super(message);
    this.name = 'ControlError';
  }
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout | null;
}

export class ControlClient {
  private buf = '';
  private readonly pending: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private eventHandler: ((event: Record<string, unknown>) => void) | null = null;
  /** The daemon's status as connectDaemon fetched it to check the database it serves. */
  status: Record<string, unknown> = {};
  private closeHandler: (() => void) | null = null;

  constructor(private readonly socket: net.Socket, readonly path: string) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const p of this.pending.splice(0)) {
        if (p.timer) clearTimeout(p.timer);
        p.reject(new ControlError('GONE', `the sensor closed the control connection (${path}) before it answered; it may have stopped. Run the command again: a seed or import it already applied is recognised and not applied twice`));
      }
      this.closeHandler?.();
    });
  }

  private onData(d: string): void {
    this.buf += d;
    for (;;) {
      const nl = this.buf.indexOf('\n');
      if (nl < 0) return;
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      let msg: Record<string, unknown>;
      try {
        msg = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      if ('event' in msg) {
        this.eventHandler?.(msg);
        continue;
      }
      const p = this.pending.shift();
      if (!p) continue;
      if (p.timer) clearTimeout(p.timer);
      if (msg.ok === true) p.resolve(msg.result);
      else {
        const e = (msg.error ?? {}) as { code?: string; message?: string };
        p.reject(new ControlError((e.code as ControlErrorCode) ?? 'IO', e.message ?? 'request failed'));
      }
    }
  }

  /** Sends one request; resolves with its result. Requests are answered in order. */
  request<T = Record<string, unknown>>(op: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    if (this.closed) return Promise.reject(new ControlError('GONE', `control connection ${this.path} is closed`));
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { resolve: resolve as (v: unknown) => void, reject, timer: null };
      if (timeoutMs > 0) {
        p.timer = setTimeout(() => {
          reject(new ControlError('TIMEOUT', `the sensor did not answer ${op} within ${Math.round(timeoutMs / 1000)} s; it may be overloaded, try again`));
          this.socket.destroy();
        }, timeoutMs);
      }
      this.pending.push(p);
      this.socket.write(`${JSON.stringify({ id: this.nextId++, op, ...args })}\n`);
    });
  }

  onEvent(handler: (event: Record<string, unknown>) => void): void {
    this.eventHandler = handler;
  }

  onClose(handler: () => void): void {
    this.closeHandler = handler;
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}

/** The socket path a running daemon recorded in the database (null when unknown). */
export function socketHint(dbPath: string): string | null {
  // A running sensord holds the database open in WAL mode, so its -shm exists: without one there is
  // no daemon to find, and opening the file could leave a stub -shm behind (read-only dir, full disk).
  if (!fs.existsSync(dbPath) || !fs.existsSync(`${dbPath}-shm`)) return null;
  let db: Database.Database | undefined;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true, timeout: 1000 });
    const row = db.prepare("SELECT value FROM meta WHERE key = 'control_socket'").get() as { value: unknown } | undefined;
    return typeof row?.value === 'string' ? row.value : null;
  } catch {
    return null;
  } finally {
    db?.close();
  }
}

function connectOnce(file: string, timeoutMs: number): Promise<net.Socket | null> {
  return new Promise((resolve, reject) => {
    const s = net.connect(file);
    const timer = setTimeout(() => {
      s.destroy();
      reject(new ControlError('TIMEOUT', `control socket ${file} did not accept a connection within ${timeoutMs / 1000} s; the sensor may be overloaded`));
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      s.destroy();
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK') resolve(null);
      else if (err.code === 'EACCES' || err.code === 'EPERM') {
        reject(new ControlError('PERMISSION', `permission denied on control socket ${file}: run as root or as a member of the sensor's group`));
      } else reject(new ControlError('IO', `cannot connect to control socket ${file}: ${err.message}`));
    });
  });
}

/**
 * Connects to the running daemon, or returns null when none runs. The kernel completes a unix-socket
 * connect from the listen backlog even while the daemon is busy, so the timeout only has to outlast
 * a starved client (a loaded Pi, an emulated CPU), where 3 s was seen to be too short.
 */
export async function connectDaemon(
  config: Pick<SensorConfig, 'control_socket'>, dbPath: string, explicitSocket?: string, timeoutMs = 10_000,
): Promise<ControlClient | null> {
  const candidates = explicitSocket ? [explicitSocket] : controlSocketCandidates(config, dbPath, socketHint(dbPath));
  for (const file of candidates) {
    const s = await connectOnce(file, timeoutMs);
    if (!s) continue;
    const client = new ControlClient(s, file);
    try {
      await checkServes(client, dbPath, timeoutMs);
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }
  return null;
}

/**
 * The daemon on the socket must be the one for `dbPath`: a control_socket shared by two sensors'
 * configs would otherwise send a seed into the other sensor's profiles.
 */
async function checkServes(client: ControlClient, dbPath: string, timeoutMs: number): Promise<void> {
  client.status = await client.request<Record<string, unknown>>('status', {}, timeoutMs);
  const served = client.status.db_path;
  if (typeof served !== 'string' || sameFile(served, dbPath)) return; // an older daemon does not say
  const err = new ControlError('WRONG_DAEMON', `the sensord on control socket ${client.path} serves ${served}, not ${path.resolve(dbPath)} ` +
    '(do two sensors share control_socket in their configs?); nothing was done');
  err.servedDb = served;
  throw err;
}

function sameFile(a: string, b: string): boolean {
  const sa = fs.statSync(a, { throwIfNoEntry: false });
  const sb = fs.statSync(b, { throwIfNoEntry: false });
  if (sa && sb) return sa.dev === sb.dev && sa.ino === sb.ino;
  return path.resolve(a) === path.resolve(b);
}
