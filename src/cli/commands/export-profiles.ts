/** `sensorctl export-profiles`: every profile row, as JSON lines or CSV, streamed. */
import type { Argv, CommandModule } from 'yargs';
import { openSensorDb } from '../../storage/db.js';
import { AtomicFileSink, StreamSink, writeExport, type ExportFormat } from '../../storage/export.js';
import { resolveOutputFile, context, EXIT_CODES_HELP, parseTime, run, withDbOptions, type DbArgs } from '../common.js';
import { flushDaemonIfRunning } from '../daemon-flush.js';

interface Args extends DbArgs {
  format: ExportFormat;
  anchor?: string;
  since?: string;
  output?: string;
  flush: boolean;
}

export const exportProfilesCommand: CommandModule<object, Args> = {
  command: 'export-profiles',
  describe: 'Print the behavioral profiles: one row per (anchor, companion), as JSON lines or CSV',
  builder: (y: Argv) =>
    withDbOptions(y)
      .option('format', { choices: ['jsonl', 'csv'] as const, default: 'jsonl' as const, describe: 'output format' })
      .option('anchor', { type: 'string', describe: 'only anchors whose key starts with PREFIX (e.g. "ja4>ja4t:" or "ja4>ja4t:t13d")' })
      .option('since', { type: 'string', describe: 'only rows updated since TIME (ISO 8601, epoch seconds, or an age: 30m, 2h, 7d)' })
      .option('output', { alias: 'o', type: 'string', describe: 'write to FILE atomically (temporary file, then rename) instead of stdout; - is stdout' })
      .option('flush', { type: 'boolean', default: true, describe: 'ask a running sensord to flush first, so the export includes what it holds in memory (--no-flush: as of its last flush)' })
      .example('$0 export-profiles > profiles.jsonl', 'everything, one JSON object per row')
      .example('$0 export-profiles --format csv --anchor "ja4>ja4t:" -o /tmp/ja4t.csv', 'one pair, as CSV, written atomically')
      .example('$0 export-profiles --since 7d | jq -c "select(.count > 100)"', 'rows changed in the last week')
      .epilog(
        'Rows come sorted by anchor_key, companion_key with total_seen set to the anchor\'s total on every row — the form import-profiles reads. ' +
        'Memory stays constant however many rows there are.\n\n' + EXIT_CODES_HELP,
      ) as unknown as Argv<Args>,
  handler: run(async (args: Args) => {
    const ctx = context(args);
    const since = args.since !== undefined ? parseTime(args.since) : undefined;
    const output = args.output === undefined || args.output === '-' ? undefined : resolveOutputFile(args.output, 'export', ctx.dbPath);
    if (args.flush) await flushDaemonIfRunning(ctx);
    const store = openSensorDb(ctx.dbPath, { readonly: true });
    store.db.pragma('cache_size = -4096'); // rows are read once, in order: a small cache keeps RSS down
    const file = output !== undefined ? new AtomicFileSink(output) : null;
    try {
      await writeExport(store.db, args.format, { anchorPrefix: args.anchor, since }, file ?? new StreamSink(process.stdout));
    } catch (err) {
      file?.abort();
      throw err;
    } finally {
      store.close();
    }
  }),
};
