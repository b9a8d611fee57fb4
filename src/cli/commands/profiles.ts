/** `sensorctl profiles`: what an anchor has been seen with, to judge an alert. */
import type { Argv, CommandModule } from 'yargs';
import { openSensorDb } from '../../storage/db.js';
import { anchorCompanionCount, anchorCompanions, findAnchors, topAnchors } from '../../storage/export.js';
import { checkNumber, CliError, context, EXIT, EXIT_CODES_HELP, isoTime, run, withDbOptions, type DbArgs } from '../common.js';
import { flushDaemonIfRunning } from '../daemon-flush.js';

interface Args extends DbArgs {
  anchor?: string;
  top: number;
  flush: boolean;
}

export const profilesCommand: CommandModule<object, Args> = {
  command: 'profiles',
  describe: 'Show an anchor\'s companions with counts and fractions (or, without --anchor, the busiest anchors)',
  builder: (y: Argv) =>
    withDbOptions(y)
      .option('anchor', { type: 'string', describe: 'an anchor key (ja4>ja4t:t13d...) or just its value (then every pair with that anchor value)' })
      .option('top', { type: 'number', default: 20, describe: 'at most N companions (or anchors)' })
      .option('flush', { type: 'boolean', default: true, describe: 'ask a running sensord to flush first (--no-flush: as of its last flush)' })
      .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line' })
      .example('$0 profiles', 'the 20 anchors seen most often')
      .example('$0 profiles --anchor t13d1516h2_8daaf6152771_02713d6af862', 'companions of a JA4 in every pair, with fractions')
      .example('$0 profiles --anchor "ja4>ja4t:t13d1516h2_8daaf6152771_02713d6af862" --top 5 --json', 'one pair, for scripts')
      .epilog('A companion whose fraction is below rare_fraction (config) is marked "rare"; an anchor seen fewer than min_seen times is still learning (no alerts).\n\n' + EXIT_CODES_HELP) as unknown as Argv<Args>,
  handler: run(async (args: Args) => {
    const ctx = context(args);
    checkNumber(args.top, 'top', { min: 1, max: 1_000_000, integer: true });
    if (args.flush) await flushDaemonIfRunning(ctx);
    const store = openSensorDb(ctx.dbPath, { readonly: true });
    const out: string[] = [];
    try {
      if (args.anchor === undefined) {
        const anchors = topAnchors(store.db, args.top);
        if (args.json) for (const a of anchors) out.push(JSON.stringify(a));
        else {
          if (anchors.length === 0) out.push('no profiles yet');
          for (const a of anchors) {
            out.push(`${String(a.total_seen).padStart(10)}  ${String(a.companions).padStart(4)} ${a.companions === 1 ? 'companion ' : 'companions'}  ${a.anchor_key}`);
          }
        }
      } else {
        const keys = findAnchors(store.db, args.anchor);
        if (keys.length === 0) throw new CliError(EXIT.NO_INPUT, `no profile for anchor ${args.anchor} in ${ctx.dbPath}`);
        const { min_seen: minSeen, rare_fraction: rare } = ctx.config;
        for (const key of keys) {
          const rows = anchorCompanions(store.db, key, args.top);
          const total = rows[0]?.total_seen ?? 0;
          const all = anchorCompanionCount(store.db, key);
          if (args.json) {
            for (const r of rows) {
              out.push(JSON.stringify({ ...r, fraction: total > 0 ? r.count / total : 0, rare: total >= minSeen && total > 0 && r.count / total < rare }));
            }
            continue;
          }
          out.push(`${key}`);
          out.push(`  seen ${total} times with ${all} companion${all === 1 ? '' : 's'}${total < minSeen ? ` — learning (alerts from ${minSeen})` : ''}${all > rows.length ? `; top ${rows.length} shown` : ''}`);
          for (const r of rows) {
            const fraction = total > 0 ? r.count / total : 0;
            const mark = total >= minSeen && fraction < rare ? '  rare' : '';
            out.push(`  ${String(r.count).padStart(10)}  ${(fraction * 100).toFixed(2).padStart(6)}%  ${isoTime(r.last_updated)}  ${r.companion_key}${mark}`);
          }
        }
      }
    } finally {
      store.close();
    }
    process.stdout.write(out.length ? `${out.join('\n')}\n` : '');
  }),
};
