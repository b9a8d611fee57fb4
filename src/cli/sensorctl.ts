#!/usr/bin/env node
/** sensorctl: the operator's tool. Each command only parses arguments and calls domain code. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { COMMANDS } from './commands/index.js';

const cli = yargs(hideBin(process.argv))
  .scriptName('sensorctl')
  .usage('$0 <command> [options]')
  .option('debug', { type: 'boolean', default: false, describe: 'print stack traces on errors' })
  .demandCommand(1, 'name a command (see --help)')
  .strict()
  .completion('completion', 'print a bash/zsh completion script')
  .recommendCommands()
  .help()
  .alias('h', 'help')
  .version()
  .wrap(Math.min(100, process.stdout.columns ?? 100))
  .fail((msg, err) => {
    if (err) {
      process.stderr.write(`sensorctl: ${err.message}\n`);
      if (process.argv.includes('--debug') && err.stack) process.stderr.write(`${err.stack}\n`);
      process.exit(1);
    }
    process.stderr.write(`sensorctl: ${msg}\n`);
    process.stderr.write('Run `sensorctl --help` for usage.\n');
    process.exit(64);
  });

for (const command of COMMANDS) cli.command(command);

await cli.parseAsync();
