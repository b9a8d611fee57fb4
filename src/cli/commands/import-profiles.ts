/** `sensorctl import-profiles FILE|-`: add profiles from export-profiles output (JSON lines), once. */
import type { Argv, CommandModule } from 'yargs';
import { openJsonlSource } from '../../storage/seed.js';
import { applySource, reportApply, sourceLimits, withApplyOptions, type ApplyArgs } from '../apply-source.js';
import { context, EXIT_CODES_HELP, run, stdinOrPath, withDbOptions } from '../common.js';

interface Args extends ApplyArgs {
  file: string;
  'source-id'?: string;
}

export const importProfilesCommand: CommandModule<object, Args> = {
  command: 'import-profiles <file>',
  describe: 'Add profiles from `export-profiles --format jsonl` output (a file, or - for stdin), once',
  builder: (y: Argv) =>
    withApplyOptions(withDbOptions(y))
      .positional('file', { type: 'string', demandOption: true, describe: 'JSON lines as written by export-profiles, or - for standard input' })
      .option('source-id', { type: 'string', describe: 'the sensor id the rows come from (recorded in the ledger with the digest)' })
      .example('$0 import-profiles profiles.jsonl', 'merge an export into this sensor')
      .example('ssh other-sensor sensorctl export-profiles | $0 import-profiles --source-id other -', 'copy another sensor\'s profiles over SSH')
      .epilog(
        'The rows must be in the order export-profiles writes them (sorted by anchor_key, companion_key). They are checked like a seed ' +
        '(types, ranges, count <= total_seen, key length and characters, plausible timestamps) and rejected whole on the first problem. ' +
        'The ledger makes a second import of the same rows a no-op (exit 3) unless --force.\n\n' + EXIT_CODES_HELP,
      ) as unknown as Argv<Args>,
  handler: run(async (args: Args) => {
    const ctx = context(args);
    // yargs 18 hands a positional "-" over as "" (an empty path names no file anyway).
    const file = stdinOrPath(args.file);
    const limits = sourceLimits(args);
    const source = await openJsonlSource(file, { destPath: ctx.dbPath, limits, sensorId: args['source-id'] ?? null });
    try {
      const report = await applySource(ctx, source, args);
      return reportApply('import', file, ctx, report, args.json === true);
    } finally {
      source.close();
    }
  }),
};
