/**
 * Helpers for the sensorctl tests: the real CLI and the real daemon as subprocesses (from dist/,
 * so build first), real SQLite files in temp dirs, sources made with the storage layer.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSensorDb } from '../../src/storage/db.js';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const CLI = path.join(ROOT, 'dist/cli/sensorctl.js');
export const SENSORD = path.join(ROOT, 'dist/daemon/sensord.js');
export const DEMO_PCAP = path.join(ROOT, 'test/fixtures/demo.pcap');

if (!fs.existsSync(CLI) || !fs.existsSync(SENSORD)) {
  throw new Error('test/cli needs the built CLI and daemon: run `npm run build` first (make test does)');
}

export function tempDir(prefix = 'sensorctl-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs sensorctl to completion. No SENSOR_DB/SENSOR_CONFIG from the environment leak in. */
export function cli(args: string[], opts: { input?: string | Buffer; env?: Record<string, string>; cwd?: string; uid?: number; gid?: number } = {}): Run {
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  delete env.SENSOR_DB;
  delete env.SENSOR_CONFIG;
  delete env.RUNTIME_DIRECTORY;
  if (opts.env) Object.assign(env, opts.env);
  const r = spawnSync(process.execPath, [CLI, ...args], { input: opts.input, env, cwd: opts.cwd, uid: opts.uid, gid: opts.gid, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Runs sensorctl asynchronously (for runs that must overlap something else). */
export function cliAsync(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, SENSOR_DB: '', SENSOR_CONFIG: '' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function json(r: Run): Record<string, unknown> {
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

export type Row = [string, string, number, number, number];

/** A real sensor database holding `rows` (anchor, companion, count, total_seen, last_updated). */
export function makeSensorDb(file: string, rows: Row[], sensorId = 'source-sensor'): string {
  const store = openSensorDb(file, { sensorId });
  const put = store.db.prepare('INSERT INTO behavior_profiles (anchor_key, companion_key, count, total_seen, last_updated) VALUES (?, ?, ?, ?, ?)');
  store.db.transaction(() => { for (const r of rows) put.run(...r); })();
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  store.close();
  return file;
}

export const T0 = Date.UTC(2024, 4, 1);

/** Exported rows of a database, as [anchor, companion, count, total_seen, last_updated]. */
export function exportRows(db: string): Row[] {
  const r = cli(['export-profiles', '--db', db, '--no-flush']);
  if (r.code !== 0) throw new Error(`export failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').filter(Boolean).map((l) => {
    const o = JSON.parse(l) as Record<string, unknown>;
    return [o.anchor_key, o.companion_key, o.count, o.total_seen, o.last_updated] as Row;
  });
}

export function fileDigest(file: string): string {
  const h = createHash('sha256');
  for (const f of [file, `${file}-wal`]) if (fs.existsSync(f)) h.update(fs.readFileSync(f));
  return h.digest('hex');
}

/** Splits a little-endian pcap into its header and its records' byte ranges. */
export function pcapRecords(buf: Buffer): { header: Buffer; records: Buffer[] } {
  const magic = buf.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const records: Buffer[] = [];
  let off = 24;
  while (off + 16 <= buf.length) {
    const incl = le ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
    records.push(buf.subarray(off, off + 16 + incl));
    off += 16 + incl;
  }
  return { header: buf.subarray(0, 24), records };
}

/** A running sensord reading a pcap stream from a pipe that stays open until end(). */
export class Daemon {
  readonly proc: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  private readonly exited: Promise<number>;

  constructor(readonly db: string, extraArgs: string[] = []) {
    const flush = extraArgs.includes('--flush-interval') ? [] : ['--flush-interval', '0.5'];
    this.proc = spawn(process.execPath, [SENSORD, '--read=-', '--db', db, ...flush, ...extraArgs], {
      env: { ...process.env, SENSOR_DB: '', SENSOR_CONFIG: '', RUNTIME_DIRECTORY: '' },
    });
    this.proc.stdout.on('data', (d) => { this.stdout += d; });
    this.proc.stderr.on('data', (d) => { this.stderr += d; });
    this.exited = new Promise((resolve) => this.proc.on('close', (code) => resolve(code ?? -1)));
  }

  private wrote = false;

  write(b: Buffer): void {
    this.wrote = true;
    this.proc.stdin.write(b);
  }

  /** Waits until the control socket answers status (and, if given, `packets` frames were read). */
  async ready(packets = 0, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (fs.existsSync(`${this.db}.sock`) || this.stderr.includes('control socket listening')) {
        const r = await cliAsync(['status', '--db', this.db, '--json']);
        if (r.code === 0) {
          const s = JSON.parse(r.stdout) as { daemon: Record<string, unknown> };
          if (s.daemon.running === true && Number(s.daemon.packets) >= packets) return s.daemon;
        }
      }
      if (Date.now() > until) throw new Error(`sensord not ready: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Closes its input: it flushes and exits. Resolves to the exit code. */
  async end(): Promise<number> {
    if (!this.wrote) this.write(fs.readFileSync(DEMO_PCAP).subarray(0, 24)); // an empty capture is an unreadable one
    this.proc.stdin.end();
    return this.exited;
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}
