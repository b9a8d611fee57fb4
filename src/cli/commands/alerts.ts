/** `sensorctl alerts`: stored alerts, and with --follow new ones as the daemon raises them. */
import type { Argv, CommandModule } from 'yargs';
import type { AlertRecord } from '../../anomaly/alert.js';
import { openSensorDb } from '../../storage/db.js';
import { queryAlerts } from '../../storage/export.js';
import { checkNumber, CliError, context, EXIT, EXIT_CODES_HELP, isoTime, parseTime, run, withDbOptions, type DbArgs } from '../common.js';
import { connectDaemon } from '../control-client.js';
import { LineWriter } from '../output.js';

interface Args extends DbArgs {
  since?: string;
  kind?: string;
  limit: number;
  follow: boolean;
}

/**
 * One line per alert, stamped with the alert's own time (the traffic's, as in --json), so a
 * replayed capture's alerts show when that traffic happened; the stored time goes beside it when
 * it differs by more than a minute (--since selects by the stored time).
 */
function human(record: AlertRecord, storedAt?: number): string {
  const a = record.alert;
  const f = record.flow;
  const at = Date.parse(record.timestamp);
  let when = Number.isFinite(at) ? isoTime(at) : record.timestamp;
  if (storedAt !== undefined && Number.isFinite(at) && Math.abs(storedAt - at) > 60_000) when += ` (stored ${isoTime(storedAt)})`;
  return `${when}  ${a.severity.padEnd(8)} ${a.kind.padEnd(15)} ${a.message}` +
    (f ? `  [${f.proto} ${f.src_ip}:${f.src_port} -> ${f.dest_ip}:${f.dest_port}]` : '');
}

export const alertsCommand: CommandModule<object, Args> = {
  command: 'alerts',
  describe: 'List stored alerts; --follow streams new ones from the running sensord',
  builder: (y: Argv) =>
    withDbOptions(y)
      .option('since', { type: 'string', describe: 'only alerts stored since TIME (ISO 8601, epoch seconds, or an age: 30m, 2h, 7d); for a live sensor the time it raised them' })
      .option('kind', { choices: ['new_companion', 'rare_companion'], describe: 'only alerts of this kind' })
      .option('limit', { type: 'number', default: 50, describe: 'at most this many stored alerts (the newest), printed oldest first' })
      .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'keep running and print new alerts as sensord raises them (Ctrl-C to stop; exits 69 when sensord stops)' })
      .option('json', { type: 'boolean', default: false, describe: 'one alert JSON object (EVE-style) per line' })
      .example('$0 alerts --since 1d', 'alerts of the last day')
      .example('$0 alerts --kind new_companion --limit 10 --json | jq .alert.anchor', 'for scripts')
      .example('$0 alerts -f', 'watch alerts live')
      .epilog(EXIT_CODES_HELP) as unknown as Argv<Args>,
  handler: run(async (args: Args) => {
    const ctx = context(args);
    checkNumber(args.limit, 'limit', { min: 0, max: 10_000_000, integer: true, unit: 'alerts' });
    const since = args.since !== undefined ? parseTime(args.since) : undefined;
    const out = new LineWriter();
    // Subscribe before reading the table, so nothing raised in between is missed; duplicates are dropped.
    const client = args.follow ? await connectDaemon(ctx.config, ctx.dbPath, ctx.socket) : null;
    if (args.follow && !client) {
      throw new CliError(EXIT.NO_DAEMON, `--follow needs a running sensord, and none answers for ${ctx.dbPath} (start it, or name its socket with --socket)`);
    }
    const early: AlertRecord[] = [];
    let printing = false;
    const emit = (a: AlertRecord) => {
      if (args.kind && a.alert.kind !== args.kind) return;
      out.line(args.json ? JSON.stringify(a) : human(a));
      out.flushSync();
    };
    if (client) {
      client.onEvent((e) => {
        if (e.event !== 'alert') return;
        const a = e.alert as AlertRecord;
        if (printing) emit(a);
        else early.push(a);
      });
      await client.request('alerts.follow');
    }
    const seen = new Set<string>();
    const store = openSensorDb(ctx.dbPath, { readonly: true });
    try {
      for (const row of queryAlerts(store.db, { since, kind: args.kind, limit: args.limit })) {
        let record: AlertRecord;
        try {
          record = JSON.parse(row.payload) as AlertRecord;
        } catch {
          continue;
        }
        if (client) seen.add(row.payload);
        out.line(args.json ? row.payload : human(record, row.created_at));
      }
    } finally {
      store.close();
    }
    await out.end();
    if (!client) return;
    for (const a of early) if (!seen.has(JSON.stringify(a))) emit(a);
    printing = true;
    const ended = await new Promise<'daemon' | 'signal'>((resolve) => {
      client.onClose(() => resolve('daemon'));
      process.once('SIGINT', () => { resolve('signal'); client.close(); });
      process.once('SIGTERM', () => { resolve('signal'); client.close(); });
    });
    await out.end();
    // Said, and not a success: a script or supervisor following alerts must see that it stopped.
    if (ended === 'daemon') throw new CliError(EXIT.NO_DAEMON, 'sensord closed the connection (stopped or restarting); no more alerts to follow');
  }),
};
