/**
 * The common path of `seed` and `import-profiles`: open and check the source, then hand the merge
 * to the running daemon when there is one (so its in-memory profiles and the database agree), or
 * apply it to the database file in one transaction when there is none. Both give the same rows.
 */
import fs from 'node:fs';
import type { Argv } from 'yargs';
import { openSensorDb, type SensorDb } from '../storage/db.js';
import { dbFacts } from '../storage/export.js';
import { acquireWriterLock, type WriterLock } from '../storage/lock.js';
import {
  applyToDatabase, defaultLimits, emptyStats, SeedError, SourceScan, type ApplyResult, type MergeStats, type ProfileRow, type ProfileSource, type ScanResult, type SourceLimits,
} from '../storage/seed.js';
import { checkNumber, EXIT, type Context, type DbArgs } from './common.js';
import { connectDaemon, type ControlClient } from './control-client.js';
import { progressBar, type ProgressBar } from './progress.js';

export interface ApplyArgs extends DbArgs {
  force?: boolean;
  'dry-run'?: boolean;
  wait?: number;
  'max-size'?: number;
  progress?: boolean;
}

export function withApplyOptions<T>(y: Argv<T>): Argv<T & ApplyArgs> {
  return y
    .option('dry-run', { type: 'boolean', default: false, describe: 'check the source and report what would change (rows new, rows added to, totals); write nothing' })
    .option('force', { type: 'boolean', default: false, describe: 'apply even if the ledger says this source was already applied (its counts are added again)' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON line with the result (also on errors)' })
    .option('wait', { type: 'number', default: 10, describe: 'seconds to wait for a database another writer holds (another seed or import, or SQLite\'s lock) before giving up (exit 75)' })
    .option('max-size', { type: 'number', describe: 'largest source accepted, in MiB (default 512)' })
    .option('progress', { type: 'boolean', describe: 'progress bar on stderr (default: on a terminal, for sources of 50,000 rows or more)' }) as Argv<T & ApplyArgs>;
}

/** The row limits of a source, with --max-size; --wait and --max-size checked (usage error). */
export function sourceLimits(args: ApplyArgs): SourceLimits {
  checkNumber(args.wait, 'wait', { min: 0, max: 86_400, unit: 'seconds' });
  checkNumber(args['max-size'], 'max-size', { min: 0, aboveMin: true, max: 1_048_576, unit: 'MiB' });
  const limits = defaultLimits();
  if (args['max-size'] !== undefined) limits.maxBytes = Math.floor(args['max-size'] * 1024 * 1024);
  return limits;
}

const CHUNK_ROWS = 2048;

export interface ApplyReport {
  outcome: ApplyResult['outcome'];
  mode: 'live' | 'file';
  scan: ScanResult;
  stats: MergeStats;
  appliedAt: number | null;
  ms: number;
  /** Set when the merged profiles do not fit the sensor's caps: what was or will be dropped. */
  warning: string | null;
}

type Applied = Omit<ApplyReport, 'mode' | 'ms'>;

/**
 * Streams the source to the daemon in chunks of whole anchors, validating and digesting it on the
 * way; the daemon holds the rows and merges them at seed.commit, when the digest is known.
 */
async function applyLive(client: ControlClient, source: ProfileSource, args: ApplyArgs, bar: ProgressBar): Promise<Applied> {
  const begin = await client.request<{ already: boolean; applied_at?: number; rows?: number }>('seed.begin', {
    file_digest: source.fileDigest, source: source.label, force: args.force === true, dry_run: args['dry-run'] === true,
  });
  if (begin.already) {
    return {
      outcome: 'already', stats: emptyStats(), appliedAt: begin.applied_at ?? null, warning: null,
      scan: { digest: source.fileDigest, fileDigest: source.fileDigest, sensorId: source.sensorId, rows: begin.rows ?? 0, anchors: 0, zeroRows: 0 },
    };
  }
  bar.start(args['dry-run'] ? 'comparing' : 'sending', source.approxRows);
  const scan = new SourceScan(source, (n) => bar.update(n));
  let chunk: ProfileRow[] = [];
  for (const g of scan.groups()) {
    for (const r of g.rows) chunk.push([r[0], r[1], r[2], g.total, r[4]]);
    if (chunk.length >= CHUNK_ROWS) {
      await client.request('seed.rows', { rows: chunk }, 120_000);
      chunk = [];
    }
  }
  if (chunk.length > 0) await client.request('seed.rows', { rows: chunk }, 120_000);
  const result = scan.finish();
  bar.stop();
  const res = await client.request<{ outcome: ApplyResult['outcome']; stats: MergeStats; applied_at?: number | null; dropped_by_caps?: number }>(
    'seed.commit', { digest: result.digest, sensor_id: result.sensorId, rows: result.rows }, 600_000,
  );
  const dropped = res.dropped_by_caps ?? 0;
  const warning = dropped > 0
    ? `the running sensor's caps (caps.max_anchors, caps.max_companions_per_anchor) could not hold every row: ${dropped} least recently updated rows were dropped; raise the caps to keep them`
    : null;
  return { outcome: res.outcome, stats: res.stats, appliedAt: res.applied_at ?? null, scan: result, warning };
}

function applyFile(ctx: Context, source: ProfileSource, args: ApplyArgs, bar: ProgressBar): Applied {
  const dryRun = args['dry-run'] === true;
  let dest: SensorDb | null = null;
  let lock: WriterLock | null = null;
  // A source refused halfway must not leave a new, empty database behind under the name given.
  const created = !fs.existsSync(ctx.dbPath);
  let failed = true;
  try {
    if (dryRun) dest = fs.existsSync(ctx.dbPath) ? openSensorDb(ctx.dbPath, { readonly: true }) : null;
    else {
      // A sensord that holds the database but could not be reached on its control socket would
      // write its own counts over ours at its next flush: refuse (busy) rather than lose the seed.
      lock = acquireWriterLock(ctx.dbPath, 'sensorctl', Math.max(0, Math.round((args.wait ?? 10) * 1000)));
      dest = openSensorDb(ctx.dbPath, {
        sensorId: ctx.config.sensor_id ?? undefined,
        recover: false,
        cacheSizeKb: 4096,
        busyTimeoutMs: Math.max(0, Math.round((args.wait ?? 10) * 1000)),
      });
    }
    bar.start(dryRun ? 'comparing' : 'merging', source.approxRows);
    const applied = applyToDatabase(dest, source, { force: args.force, dryRun, progress: (n) => bar.update(n) });
    failed = false;
    return { ...applied, warning: dest && applied.outcome === 'applied' ? overCaps(dest, ctx.config) : null };
  } finally {
    bar.stop();
    dest?.close();
    if (failed && created && dest !== null && !dryRun) {
      for (const f of [ctx.dbPath, `${ctx.dbPath}-wal`, `${ctx.dbPath}-shm`]) fs.rmSync(f, { force: true });
    }
    lock?.release();
  }
}

/**
 * A backup of this very database (same sensor id, same creation time) merged into it counts its
 * whole history twice: that is a restore gone wrong, refused unless --force. A redeployed sensor
 * seeded from its old backup has a new database (another creation time), so it is not affected.
 */
function refuseOwnBackup(ctx: Context, source: ProfileSource, args: ApplyArgs): void {
  if (args.force || source.sensorId === null || source.createdAt === null || !fs.existsSync(ctx.dbPath)) return;
  let dest: SensorDb;
  try {
    dest = openSensorDb(ctx.dbPath, { readonly: true });
  } catch {
    return; // the merge itself reports what is wrong with the destination
  }
  try {
    if (dest.sensorId !== source.sensorId || dest.createdAt !== source.createdAt) return;
  } finally {
    dest.close();
  }
  throw new SeedError('INVALID', `${source.label} is a backup of this same database (sensor ${source.sensorId}, created ` +
    `${new Date(source.createdAt).toISOString()}): merging it would count its history twice. To restore it, stop sensord and ` +
    'copy it over the database; --force merges it anyway');
}

/** With the database as merged: more anchors than sensord keeps, said before it drops them unannounced. */
function overCaps(dest: SensorDb, config: Context['config']): string | null {
  const problems: string[] = [];
  const { anchors } = dbFacts(dest.db, dest.path);
  const max = config.caps.max_anchors;
  if (anchors > max) {
    problems.push(`${anchors} anchors, more than caps.max_anchors (${max}): sensord keeps the ${max} most recently updated and drops the other ${anchors - max}`);
  }
  const perAnchor = config.caps.max_companions_per_anchor;
  const wide = dest.db.prepare(`SELECT COUNT(*) AS anchors, COALESCE(SUM(n - ?), 0) AS excess
    FROM (SELECT COUNT(*) AS n FROM behavior_profiles GROUP BY anchor_key HAVING n > ?)`).get(perAnchor, perAnchor) as { anchors: number; excess: number };
  if (wide.anchors > 0) {
    problems.push(`${wide.anchors} anchors with more than caps.max_companions_per_anchor (${perAnchor}) companions: sensord keeps the ${perAnchor} most recently updated of each and drops the other ${wide.excess} rows`);
  }
  if (problems.length === 0) return null;
  return `the database now holds ${problems.join('; and ')}, when it starts (and deletes them at its first flush); raise the caps in its config to keep them`;
}

export async function applySource(ctx: Context, source: ProfileSource, args: ApplyArgs): Promise<ApplyReport> {
  refuseOwnBackup(ctx, source, args);
  const t0 = performance.now();
  const bar = progressBar({ enabled: args.progress, expected: source.approxRows });
  const client = await connectDaemon(ctx.config, ctx.dbPath, ctx.socket);
  try {
    const r = client ? await applyLive(client, source, args, bar) : applyFile(ctx, source, args, bar);
    return { ...r, mode: client ? 'live' : 'file', ms: performance.now() - t0 };
  } finally {
    bar.stop();
    client?.close();
  }
}

/** Prints the result (one line, or one JSON line) and returns the exit code. */
export function reportApply(kind: 'seed' | 'import', label: string, ctx: Context, r: ApplyReport, json: boolean): number {
  const s = r.stats;
  const code = r.outcome === 'already' ? EXIT.NOTHING_TO_DO : EXIT.OK;
  if (r.warning) process.stderr.write(`sensorctl: warning: ${r.warning}\n`);
  if (json) {
    process.stdout.write(`${JSON.stringify({
      outcome: r.outcome, exit_code: code, kind, mode: r.mode, source: label, db: ctx.dbPath,
      digest: r.scan.digest, file_digest: r.scan.fileDigest, source_sensor_id: r.scan.sensorId, source_rows: r.scan.rows, source_anchors: r.scan.anchors,
      stats: {
        rows: s.rows, rows_new: s.rowsNew, rows_added: s.rowsAdded, anchors: s.anchors, anchors_new: s.anchorsNew,
        count_added: s.countAdded, total_added: s.totalAdded, skipped_zero: s.skipped,
      },
      applied_at: r.appliedAt, ms: Math.round(r.ms), warning: r.warning,
    })}\n`);
    return code;
  }
  const where = r.mode === 'live' ? 'the running sensor' : ctx.dbPath;
  const from = `${label}${r.scan.sensorId ? ` (sensor ${r.scan.sensorId})` : ''}`;
  const detail = `${s.rows} rows (${s.rowsNew} new, ${s.rowsAdded} added to) over ${s.anchors} anchors (${s.anchorsNew} new); counts +${s.countAdded}, totals +${s.totalAdded}` +
    (s.skipped ? `; ${s.skipped} rows with count 0 skipped` : '');
  if (r.outcome === 'already') {
    process.stdout.write(`nothing to do: ${from} was already applied to ${where} on ${new Date(r.appliedAt ?? 0).toISOString()} ` +
      `(digest ${r.scan.digest.slice(0, 16)}); --force applies it again\n`);
  } else if (r.outcome === 'dry-run') {
    process.stdout.write(`dry run: ${kind === 'seed' ? 'seeding' : 'importing'} ${from} into ${where} would merge ${detail}; nothing written\n`);
  } else {
    process.stdout.write(`${kind === 'seed' ? 'seeded' : 'imported'} ${from} into ${where}: ${detail}; ledger ${r.scan.digest.slice(0, 16)} (${(r.ms / 1000).toFixed(1)} s)\n`);
  }
  return code;
}
