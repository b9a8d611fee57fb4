/** `sensorctl seed SOURCE.db`: add another sensor's (or a backup's) profiles, once. */
import type { Argv, CommandModule } from 'yargs';
import { openSqliteSource } from '../../storage/seed.js';
import { applySource, reportApply, sourceLimits, withApplyOptions, type ApplyArgs } from '../apply-source.js';
import { context, EXIT_CODES_HELP, run, withDbOptions } from '../common.js';

interface Args extends ApplyArgs {
  source: string;
}

export const seedCommand: CommandModule<object, Args> = {
  command: 'seed <source>',
  describe: 'Add the profiles of a sensor database or backup (SOURCE.db) into this sensor, once',
  builder: (y: Argv) =>
    withApplyOptions(withDbOptions(y))
      .positional('source', { type: 'string', demandOption: true, describe: 'a sensor database or a backup made by `sensorctl backup`' })
      .example('$0 seed /media/usb/sensor-backup.db', 'merge a backup into this sensor (into the running daemon if there is one)')
      .example('$0 seed --dry-run /media/usb/other.db', 'show how many rows would be new or added to; write nothing')
      .example('$0 seed --json /media/usb/other.db', 'one JSON line for scripts (the USB auto-seed uses this)')
      .epilog(
        'Seeding is idempotent: the destination keeps a ledger of every source applied (a digest of its profiles and its sensor id); ' +
        'the same source again is a no-op (exit 3) unless --force. Different sources add up. The source is untrusted: it must be a ' +
        'regular file (no FIFO, device or symlink out of its directory) under the size limit; it is copied to $TMPDIR, opened ' +
        'read-only with trusted_schema=OFF, quick_check\'ed, and every row is checked; a bad source is rejected whole and nothing ' +
        'is changed. While sensord runs, the merge is done by the daemon through its control socket.\n\n' + EXIT_CODES_HELP,
      ) as unknown as Argv<Args>,
  handler: run(async (args: Args) => {
    const ctx = context(args);
    const limits = sourceLimits(args);
    const source = openSqliteSource(args.source, { destPath: ctx.dbPath, limits });
    try {
      const report = await applySource(ctx, source, args);
      return reportApply('seed', args.source, ctx, report, args.json === true);
    } finally {
      source.close();
    }
  }),
};
