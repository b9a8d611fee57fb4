#!/usr/bin/env node
/** sensord: the sensor daemon. Parses arguments, loads the config, and runs the SensorDaemon. */
import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { describeCapture, type CaptureSpec } from '../capture/source.js';
import { optionWithoutValue, repeatedOption } from '../cli/argv.js';
import { ControlError, connectDaemon } from '../cli/control-client.js';
import { parseMethods } from '../cli/commands/fingerprint.js';
import { keyLogSecretCount } from '../fingerprint/decrypt/secrets.js';
import type { LogLevel } from '../storage/db.js';
import { checkMqttSettings } from '../mqtt/index.js';
import { ConfigError, loadConfig, MAX_KEYLOG_BYTES, readBoundedFile, resolveDbPath, settlePairs, type SensorConfig } from './config.js';
import { ControlServer, controlSocketPath } from './control-server.js';
import { EXIT_CAPTURE, EXIT_CONFIG, SensorDaemon } from './daemon.js';
import { createLogger } from './logger.js';
import { notifyReady, notifyStopping } from './sd-notify.js';
import { printSummary } from './summary.js';
import { PipelineWatchdog } from './watchdog.js';

const EXIT_USAGE = 64;
const EXIT_NO_INPUT = 66;

// stdout or stderr closed by a reader (`sensord ... | head`, `2>&1 | head`) is not a reason to
// lose the final flush: alerts and logs that cannot be written are dropped, the work goes on.
process.stdout.on('error', () => {});
process.stderr.on('error', () => {});

/** Every sensord option that takes a value (the rest are flags). */
const VALUE_OPTIONS = new Set(['read', 'interface', 'filter', 'db', 'config', 'flush-interval', 'mqtt-url', 'methods', 'keylog', 'log-level']);

/** yargs takes a lone `-` for a positional; `--read -` (standard input) must stay the option's value. */
function keepStdinDash(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if ((args[i] === '--read' || args[i] === '-r') && args[i + 1] === '-') {
      out.push('--read=-');
      i++;
    } else {
      out.push(args[i]);
    }
  }
  return out;
}

const missingValue = optionWithoutValue(hideBin(process.argv), VALUE_OPTIONS, { r: 'read', i: 'interface', c: 'config' });
if (missingValue !== null) {
  process.stderr.write(`sensord: --${missingValue}${missingValue === 'read' ? ' needs a value: a capture file, or - for standard input' : ' needs a value'}\nRun \`sensord --help\` for usage.\n`);
  process.exit(EXIT_USAGE);
}

const argv = await yargs(keepStdinDash(hideBin(process.argv)))
  .scriptName('sensord')
  .usage('$0 (--read FILE|- | --interface IFACE) [options]\n\nRuns the JA4+ sensor: capture → fingerprint → behavioral profile → alerts.')
  .option('read', { alias: 'r', type: 'string', describe: 'read a pcap/pcapng file, or - for standard input, then exit' })
  .option('interface', { alias: 'i', type: 'string', describe: 'capture live from this interface (spawns tcpdump -U -w -)' })
  .option('filter', { type: 'string', describe: 'BPF filter for live capture (overrides capture_filter)' })
  .option('db', { type: 'string', describe: 'profile database (default: $SENSOR_DB, config db_path, /var/lib/sensor/sensor.db)' })
  .option('config', { alias: 'c', type: 'string', describe: 'config file, YAML or JSON (default: $SENSOR_CONFIG or /etc/sensor/sensor.yaml if present)' })
  .option('flush-interval', { type: 'number', describe: 'seconds between profile flushes (fractions allowed)' })
  .option('mqtt-url', { type: 'string', describe: 'MQTT broker URL (overrides the config mqtt.url)' })
  .option('methods', { type: 'string', describe: 'comma-separated JA4+ methods to run (default: config methods, else all)' })
  .option('keylog', { type: 'string', describe: 'NSS key-log file with TLS/QUIC secrets' })
  .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'do not print alerts on stdout' })
  .option('summary', { type: 'boolean', default: false, describe: 'print a human-readable summary on stderr at exit' })
  .option('log-level', { choices: ['debug', 'info', 'warn', 'error'] as const, default: 'info' as const })
  .conflicts('read', 'interface')
  .check((a) => {
    // Values left out (`--read --db x`, `--db=`) were refused before parsing (optionWithoutValue).
    const repeated = repeatedOption(a);
    if (repeated) throw new Error(`--${repeated[0]} was given ${repeated[1]} times; give it once`);
    return true;
  })
  .example('$0 --read capture.pcapng --db /tmp/sensor.db', 'fingerprint and profile a capture file, then exit')
  .example('tcpdump -i eth0 -U -w - | $0 --read -', 'read a live capture from a pipe')
  .example('$0 --interface eth0 --filter "tcp or udp port 67"', 'capture live (tcpdump must be installed)')
  .epilog('Exit codes: 0 done (also after SIGTERM/SIGINT, once flushed); 2 unreadable or damaged capture; 3 tcpdump missing or failed; 4 database error; 64 usage error; 66 a --keylog file that does not exist; 78 configuration error, database from a newer version, or a control socket another running sensord serves. Alerts go to stdout as JSON lines; logs to stderr.')
  .strict()
  .fail((msg, err) => {
    // Usage errors exit 64 (EX_USAGE), as sensorctl's do, not yargs' 1.
    process.stderr.write(`sensord: ${msg ?? err?.message}\nRun \`sensord --help\` for usage.\n`);
    process.exit(EXIT_USAGE);
  })
  .help()
  .alias('h', 'help')
  .version()
  .parseAsync();

const log = createLogger('sensord', argv['log-level'] as LogLevel);

function configError(message: string): never {
  process.stderr.write(`sensord: ${message}\n`);
  process.exit(EXIT_CONFIG);
}

/** A problem with what was typed on the command line: 64, as yargs' own usage errors. */
function usageError(message: string): never {
  process.stderr.write(`sensord: ${message}\nRun \`sensord --help\` for usage.\n`);
  process.exit(EXIT_USAGE);
}

let config: SensorConfig;
try {
  config = loadConfig(argv.config).config;
} catch (err) {
  if (err instanceof ConfigError) configError(err.message);
  throw err;
}
if (argv['flush-interval'] !== undefined) {
  if (!(argv['flush-interval'] >= 0.01 && argv['flush-interval'] <= 86_400)) {
    process.stderr.write('sensord: --flush-interval must be a number of seconds from 0.01 to 86400 (a day)\nRun `sensord --help` for usage.\n');
    process.exit(EXIT_USAGE);
  }
  config.flush_interval = argv['flush-interval'];
  if (config.max_flush_interval < config.flush_interval) config.max_flush_interval = config.flush_interval;
}
if (argv['mqtt-url'] !== undefined) config.mqtt = { ...config.mqtt, url: argv['mqtt-url'] };
// Checked now, before the database is opened (and created) by a run that cannot go on.
try {
  checkMqttSettings(config.mqtt, config.sensor_id ?? 'sensor');
} catch (err) {
  const message = (err as Error).message;
  if (argv['mqtt-url'] !== undefined && message.startsWith('config mqtt.url')) usageError(message.replace('config mqtt.url', '--mqtt-url'));
  configError(message);
}
let pairNotes: string[] = [];
try {
  const methods = parseMethods(argv.methods);
  if (methods) config.methods = methods;
} catch (err) {
  usageError((err as Error).message);
}
try {
  pairNotes = settlePairs(config);
} catch (err) {
  configError((err as Error).message);
}

for (const note of pairNotes) log('info', note);

let capture: CaptureSpec;
if (argv.read !== undefined) {
  capture = argv.read === '-' ? { kind: 'stdin' } : { kind: 'file', path: argv.read };
  // Before the database is opened (and created, with its directory): a typo in the file name
  // must not leave an empty database behind.
  let stat: ReturnType<typeof statSync>;
  try {
    stat = argv.read === '-' ? undefined : statSync(argv.read, { throwIfNoEntry: false });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ELOOP' ? 'a loop of symbolic links' : code === 'ENOTDIR' ? 'a part of its path is not a directory'
      : code === 'EACCES' ? 'permission denied on a directory of its path' : (err as Error).message;
    process.stderr.write(`sensord: cannot read capture ${argv.read}: ${why}\n`);
    process.exit(EXIT_CAPTURE);
  }
  if (argv.read !== '-' && !stat?.isFile() && !stat?.isFIFO() && !stat?.isCharacterDevice()) {
    process.stderr.write(`sensord: ${stat ? `capture ${argv.read} is not a file` : `capture file not found: ${argv.read}`}\n`);
    process.exit(EXIT_CAPTURE);
  }
  if (argv.read !== '-') {
    try {
      accessSync(argv.read, fsConstants.R_OK);
    } catch {
      process.stderr.write(`sensord: cannot read capture ${argv.read}: permission denied\n`);
      process.exit(EXIT_CAPTURE);
    }
  }
} else {
  const iface = argv.interface ?? config.interface;
  if (!iface) usageError('nothing to capture: pass --read FILE|- or --interface IFACE (or set interface in the config)');
  capture = { kind: 'interface', name: iface, filter: argv.filter ?? config.capture_filter, tcpdumpPath: config.tcpdump_path ?? undefined };
}

let keyLog: Buffer | undefined;
const keyLogPath = argv.keylog ?? config.keylog;
if (keyLogPath) {
  try {
    keyLog = readBoundedFile(keyLogPath, MAX_KEYLOG_BYTES, 'key-log file');
  } catch (err) {
    // Named on the command line, a key-log file that is not there is missing input (66), as for sensorctl fingerprint.
    const code = (err as NodeJS.ErrnoException).code;
    const message = err instanceof ConfigError ? err.message
      : code === 'ENOENT' ? `key-log file not found: ${keyLogPath}` : `cannot read key-log file ${keyLogPath}: ${(err as Error).message}`;
    if (argv.keylog !== undefined && (code === 'ENOENT' || /not found/.test(message))) {
      process.stderr.write(`sensord: ${message}\n`);
      process.exit(EXIT_NO_INPUT);
    }
    configError(message);
  }
  if (keyLogSecretCount(keyLog!) === 0) log('warn', `key-log file ${keyLogPath} holds no TLS secrets (lines such as CLIENT_RANDOM <hex> <hex>); nothing will be decrypted with it`);
}

const dbPath = resolveDbPath(argv.db, config);
// A control_socket shared by two sensors' configs: the second would run with no socket, and every
// sensorctl command meant for it would reach the first. Refused before the database is opened.
// (A live daemon on this very database is the writer lock's to report.)
try {
  (await connectDaemon(config, dbPath, controlSocketPath(config, dbPath), 5000))?.close();
} catch (err) {
  if (err instanceof ControlError && err.code === 'WRONG_DAEMON') {
    configError(`control socket ${controlSocketPath(config, dbPath)} belongs to another running sensord, the one of ${err.servedDb}; give each sensor its own control_socket in its config`);
  }
}
// Control socket for sensorctl (seed/import into the live profiles, status, alerts --follow).
let control: ControlServer | null = null;
let watchdog: PipelineWatchdog | null = null;
const daemon = new SensorDaemon({
  config,
  capture,
  dbPath,
  log,
  printAlerts: !argv.quiet,
  keyLog,
  onReady: (d) => {
    control = new ControlServer(d, { path: controlSocketPath(config, dbPath), log });
    void control.start();
    // Under systemd (Type=notify): ready once the profiles are loaded and the capture runs.
    const run = d.run!;
    void notifyReady(`${d.profiler?.rowCount ?? 0} profile rows loaded; capturing from ${describeCapture(capture)}`);
    watchdog = new PipelineWatchdog(() => run.capture, (checks) => {
      log('error', 'capture stalled: input is waiting but none was read since the last check; not feeding the watchdog', { checks });
    });
    if (watchdog.start()) log('info', 'systemd watchdog armed');
  },
  onAlert: (alert) => control?.publishAlert(alert),
});
// SIGHUP too: a terminal or SSH session that goes away must not lose what is not flushed yet.
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (!daemon.isStopping) void notifyStopping('final flush');
    daemon.stop(signal);
  });
}

const { exitCode, summary } = await daemon.start();
(watchdog as PipelineWatchdog | null)?.stop();
await (control as ControlServer | null)?.close();
if (argv.summary && summary) printSummary(summary, process.stderr);
// Exit now: a read still pending on a FIFO that has no writer would keep the process alive.
process.exit(exitCode);
