#!/usr/bin/env -S node --max-semi-space-size=2
/**
 * sensorctl: the operator's tool. Each command only parses arguments and calls domain code.
 *
 * The small young generation (--max-semi-space-size=2, MiB) keeps a million-row seed or export
 * under ~100 MB RSS on a Pi (the default 16 MiB semi-spaces let garbage pile up to ~130 MB) and is
 * no slower. Run as `node dist/cli/sensorctl.js`, pass the flag yourself for the same footprint.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { optionWithoutValue, repeatedOption } from './argv.js';
import { COMMANDS } from './commands/index.js';

// A reader that stops early (`sensorctl export-profiles | head`) closes the pipe: that ends the
// output, as it does for cat or grep; it is not an error worth a message or a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  process.stderr.write(`sensorctl: cannot write to standard output: ${err.message}\n`);
  process.exit(74);
});

/**
 * `--since -5d` would reach yargs as the flags -5 and -d ("Unknown arguments: 5, d"); joined to
 * `--since=-5d`, the value gets to the time parser, whose message says what a time looks like.
 */
function keepOptionValues(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--since' && i + 1 < args.length && /^-[0-9.]/.test(args[i + 1])) {
      out.push(`--since=${args[i + 1]}`);
      i++;
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

/** A command line that cannot run, found by a check of ours: exits 64 like yargs' own usage errors. */
class UsageError extends Error {}

/**
 * No sensorctl option takes a list: one given twice (`--db a --db b`, often a script that appends
 * to a default command line) is a usage error naming it, not an array reaching the handler.
 */
function givenOnce(argv: Record<string, unknown>): true {
  const repeated = repeatedOption(argv);
  if (repeated) throw new UsageError(`--${repeated[0]} was given ${repeated[1]} times; give it once`);
  return true;
}

/** Every sensorctl option that takes a value (the rest are flags). */
const VALUE_OPTIONS = new Set([
  'db', 'config', 'socket', 'format', 'anchor', 'since', 'output', 'kind', 'limit', 'top', 'wait', 'max-size', 'source-id',
  'methods', 'keylog', 'ssh-window',
]);
// Shell completion asks with the line as typed so far, a value still missing: not a usage error.
const completing = process.argv.includes('--get-yargs-completions');
const missing = completing ? null : optionWithoutValue(hideBin(process.argv), VALUE_OPTIONS, { o: 'output', c: 'config' });
if (missing !== null) {
  process.stderr.write(`sensorctl: --${missing} needs a value\nRun \`sensorctl --help\` for usage.\n`);
  process.exit(64);
}

const cli = yargs(keepOptionValues(hideBin(process.argv)))
  .scriptName('sensorctl')
  .usage('$0 <command> [options]\n\nOperate a JA4+ sensor: status, alerts, profiles, export/import, seed, backup.\nEvery command takes --db and --config (same defaults as sensord) and --help.')
  .option('debug', { type: 'boolean', default: false, describe: 'print stack traces on errors' })
  .demandCommand(1, 'name a command (see --help)')
  .strict()
  .strictCommands()
  .check(givenOnce, true)
  .completion('completion', 'print a bash/zsh completion script')
  .recommendCommands()
  .help()
  .alias('h', 'help')
  .version()
  .wrap(Math.min(100, process.stdout.columns ?? 100))
  .fail((msg, err) => {
    if (err && !(err instanceof UsageError)) {
      process.stderr.write(`sensorctl: ${err.message}\n`);
      if (process.argv.includes('--debug') && err.stack) process.stderr.write(`${err.stack}\n`);
      process.exit(1);
    }
    let text = msg ?? err?.message ?? '';
    // yargs' suggestion alone does not say what was wrong.
    if (text.startsWith('Did you mean')) text = `Unknown command: ${hideBin(process.argv).find((a) => !a.startsWith('-')) ?? ''}. ${text}`;
    process.stderr.write(`sensorctl: ${text}\n`);
    process.stderr.write('Run `sensorctl --help` for usage.\n');
    process.exit(64);
  });

for (const command of COMMANDS) cli.command(command);

await cli.parseAsync();
