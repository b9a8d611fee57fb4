/** `sensorctl status`: is the sensor running, what is it doing, what is on disk. */
import fs from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { isCorruptionError, openSensorDb, quickCheck, StorageError } from '../../storage/db.js';
import { dbFacts, type DbFacts } from '../../storage/export.js';
import { writerLockHolder } from '../../storage/lock.js';
import { classify, context, EXIT, EXIT_CODES_HELP, humanBytes, humanDuration, isoTime, run, withDbOptions, type DbArgs } from '../common.js';
import { connectDaemon } from '../control-client.js';
import { counted } from '../output.js';

type Live = Record<string, unknown> & { last_flush?: Record<string, unknown> | null };

function damaged(problem: string): string {
  return `DAMAGED: ${problem} — sensord moves the file aside and restores the newest good snapshot at its next start`;
}

interface Args extends DbArgs {
  check: boolean;
}

export const statusCommand: CommandModule<object, Args> = {
  command: 'status',
  describe: 'Show whether sensord runs, its capture and packet rate, profiles, last flush, flash writes today, and the database',
  builder: (y: Argv) =>
    withDbOptions(y)
      .option('json', { type: 'boolean', default: false, describe: 'the same as one JSON object' })
      .option('check', { type: 'boolean', default: false, describe: 'also check the database file page by page (SQLite quick_check; reads the whole file); damage exits 74' })
      .example('$0 status', 'a short report')
      .example('$0 status --json | jq .daemon.packets_per_s', 'for scripts and monitoring')
      .example('$0 status --check', 'after a power cut: is the database file intact?')
      .epilog('Live figures come from the running sensord (control socket); database figures from the file, read-only.\n\n' + EXIT_CODES_HELP) as unknown as Argv<Args>,
  handler: run(async (args: Args) => {
    const ctx = context(args);
    let live: Live | null = null;
    let socket: string | null = null;
    let daemonError: string | null = null;
    try {
      const client = await connectDaemon(ctx.config, ctx.dbPath, ctx.socket);
      if (client) {
        socket = client.path;
        live = client.status as Live; // fetched on connecting, to check it serves this database
        client.close();
      }
    } catch (err) {
      daemonError = classify(err)[1];
    }
    if (!live && daemonError === null) {
      const holder = writerLockHolder(ctx.dbPath);
      if (holder !== null) daemonError = `sensord (pid ${holder}) holds the database but does not answer on its control socket (pass --socket, or check control_socket in the config)`;
    }
    let facts: DbFacts | null = null;
    let dbError: string | null = null;
    let dbExit: number = EXIT.OK;
    /** quick_check's verdict with --check: 'ok' or what is wrong; null when not checked. */
    let integrity: string | null = null;
    if (fs.existsSync(ctx.dbPath)) {
      try {
        const store = openSensorDb(ctx.dbPath, { readonly: true });
        try {
          facts = dbFacts(store.db, ctx.dbPath);
          if (args.check) {
            try {
              integrity = quickCheck(store.db);
            } catch (err) {
              integrity = (err as Error).message; // a page too damaged to walk
            }
          }
        } finally {
          store.close();
        }
      } catch (err) {
        [dbExit, dbError] = classify(err);
        if (err instanceof StorageError) dbError = err.message;
        else if (!dbError.includes(ctx.dbPath)) dbError = `database ${ctx.dbPath}: ${dbError}`;
        if (args.check && isCorruptionError(err)) integrity = (err as Error).message; // too damaged to summarise
      }
    } else {
      dbError = `database ${ctx.dbPath} does not exist (yet)`;
      dbExit = EXIT.NO_INPUT;
    }
    // The report is printed either way; the exit code tells a script whether there was anything to report on.
    // A damaged file is worth a failure even while the daemon runs: its next start moves it aside.
    const exitCode = integrity !== null && integrity !== 'ok' ? EXIT.IO : live || facts ? EXIT.OK : dbExit;

    if (args.json) {
      process.stdout.write(`${JSON.stringify({
        sensor_id: (live?.sensor_id as string | undefined) ?? facts?.sensorId ?? null,
        daemon: live ? { running: true, socket, ...live } : { running: false, error: daemonError },
        database: facts
          ? {
              path: facts.path, bytes: facts.bytes, wal_bytes: facts.walBytes, schema_version: facts.schemaVersion,
              latest_schema_version: facts.latestSchemaVersion, created_at: facts.createdAt, profile_rows: facts.profileRows,
              anchors: facts.anchors, journal_rows: facts.journalRows, alerts: facts.alerts, last_alert_at: facts.lastAlertAt,
              seeds_applied: facts.seedsApplied, last_write_at: facts.lastWriteAt, integrity,
            }
          : { path: ctx.dbPath, error: dbError, integrity },
        config: ctx.configSource,
      })}\n`);
      return exitCode;
    }
    const lines: string[] = [];
    const row = (k: string, v: string) => lines.push(`${k.padEnd(12)}${v}`);
    row('sensor', String(live?.sensor_id ?? facts?.sensorId ?? '-'));
    if (live) {
      row('daemon', `running (pid ${String(live.pid)}, up ${humanDuration(Number(live.uptime_s ?? 0))}) — ${socket}`);
      row('capture', `${String(live.source)}: ${String(live.packets)} packets (${String(live.packets_per_s)}/s), ${String(live.flows)} flows, ${String(live.fingerprints)} fingerprints`);
      row('profiles', `${String(live.profile_rows)} rows over ${String(live.anchors)} anchors (live); ${counted(Number(live.alerts), 'alert')} since start`);
      const f = live.last_flush;
      row('last flush', f ? `${isoTime(Number(f.at))} (${humanDuration((Date.now() - Number(f.at)) / 1000)} ago): ${f.ok ? 'ok' : `FAILED: ${String(f.error)}`}, ${String(f.rows)} rows, ${humanBytes(Number(f.bytes))}; every ${String(live.flush_interval_s)} s` : `none yet (every ${String(live.flush_interval_s)} s)`);
      row('flash today', `${humanBytes(Number(live.flash_bytes_today))} written to the database files (${String(live.day)} UTC)` +
        (live.proc_write_bytes_today !== null && live.proc_write_bytes_today !== undefined ? `, ${humanBytes(Number(live.proc_write_bytes_today))} by the process` : ''));
      const m = live.mqtt as Record<string, unknown> | null | undefined;
      row('mqtt', m
        ? `${String(m.state)}, ${String(m.url)} (MQTT ${String(m.protocol)}): ${counted(Number(m.alerts_published), 'alert')} published since start, ${String(m.outbox_pending)} waiting in the outbox` +
          (m.last_error ? `; ${String(m.last_error)}` : '')
        : 'off (no mqtt.url in the config)');
    } else {
      row('daemon', daemonError ? `unreachable: ${daemonError}` : 'not running');
    }
    if (facts) {
      row('database', `${facts.path}: ${humanBytes(facts.bytes)}${facts.walBytes ? ` + ${humanBytes(facts.walBytes)} WAL` : ''}, schema ${facts.schemaVersion} (this build: ${facts.latestSchemaVersion}), created ${isoTime(facts.createdAt)}`);
      row(live ? 'on disk' : 'profiles', `${facts.profileRows} rows over ${facts.anchors} anchors${facts.journalRows ? ` (${facts.journalRows} journal rows to fold)` : ''}; last write ${isoTime(facts.lastWriteAt)}`);
      row('alerts', `${facts.alerts} stored${facts.lastAlertAt ? `, newest ${isoTime(facts.lastAlertAt)}` : ''}`);
      row('seeds', `${facts.seedsApplied} source${facts.seedsApplied === 1 ? '' : 's'} applied (ledger)`);
      if (integrity !== null) row('integrity', integrity === 'ok' ? 'ok (quick_check)' : damaged(integrity));
    } else {
      row('database', dbError ?? '-');
    }
    if (!facts && integrity !== null) row('integrity', damaged(integrity));
    process.stdout.write(`${lines.join('\n')}\n`);
    return exitCode;
  }),
};
