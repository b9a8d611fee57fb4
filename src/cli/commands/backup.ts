/** `sensorctl backup DEST.db`: a consistent, verified copy, also while the daemon runs. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { trackTemporary } from '../../storage/temp-files.js';
import type { Argv, CommandModule } from 'yargs';
import { openSensorDb } from '../../storage/db.js';
import { backupDatabase, BackupError, type BackupResult } from '../../storage/export.js';
import { resolveOutputFile, CliError, context, EXIT, EXIT_CODES_HELP, humanBytes, run, withDbOptions, type DbArgs } from '../common.js';
import { flushDaemonIfRunning } from '../daemon-flush.js';
import { counted } from '../output.js';

interface Args extends DbArgs {
  dest: string;
  force: boolean;
  flush: boolean;
}

export const backupCommand: CommandModule<object, Args> = {
  command: 'backup <dest>',
  describe: 'Copy the sensor database to DEST.db with SQLite\'s online backup, verified before success',
  builder: (y: Argv) =>
    withDbOptions(y)
      .positional('dest', { type: 'string', demandOption: true, describe: 'the backup file to create; - writes it to standard output' })
      .option('force', { type: 'boolean', default: false, describe: 'replace DEST if it exists' })
      .option('flush', { type: 'boolean', default: true, describe: 'ask a running sensord to flush first so the copy includes what it holds in memory' })
      .option('json', { type: 'boolean', default: false, describe: 'print one JSON line with the result' })
      .example('$0 backup /media/usb/sensor-$(date +%F).db', 'back up to a USB stick while the sensor runs')
      .example('$0 seed /media/usb/sensor-2024-05-01.db', '(on another sensor) seed from that backup')
      .example('ssh pi sudo -u sensor sensorctl backup - > pi.db', 'copy it off the box over SSH (the summary goes to stderr)')
      .epilog(
        'The copy is written to a temporary file beside DEST, switched to a self-contained single file (no -wal), checked ' +
        '(quick_check, schema version, sensor id) and fsynced, then renamed to DEST. On any failure DEST is not created.\n\n' + EXIT_CODES_HELP,
      ) as unknown as Argv<Args>,
  handler: run(async (args: Args) => {
    const ctx = context(args);
    // yargs hands a lone `-` over as an empty string.
    const toStdout = args.dest === '-' || (args.dest === '' && process.argv.slice(2).includes('-'));
    if (toStdout) return backupToStdout(ctx, args);
    const dest = resolveOutputFile(args.dest, 'backup', ctx.dbPath, { replacesDatabase: true });
    if (fs.existsSync(dest) && !args.force) throw new CliError(EXIT.USAGE, `${args.dest} exists; choose a new name or pass --force to replace it`);
    const flushed = args.flush ? await flushDaemonIfRunning(ctx) : false;
    const store = openSensorDb(ctx.dbPath, { readonly: true });
    try {
      const r = await backupDatabase(store.db, dest);
      process.stdout.write(`${summary(r, r.path, flushed, args.json === true)}\n`);
    } catch (err) {
      if (err instanceof BackupError) throw new CliError(EXIT.IO, err.message);
      const code = (err as NodeJS.ErrnoException).code ?? '';
      if (code === 'SQLITE_FULL' || code === 'ENOSPC') throw new CliError(EXIT.IO, `no space left for the backup at ${args.dest}; nothing written`);
      if (code === 'SQLITE_CANTOPEN' || code === 'ENOENT' || code === 'EACCES') throw new CliError(EXIT.IO, `cannot create ${args.dest}: ${(err as Error).message}`);
      throw err;
    } finally {
      store.close();
    }
  }),
};

/** The result line: JSON with --json, else a sentence; `where` is the path, or '-' for standard output. */
function summary(r: BackupResult, where: string, flushed: boolean, json: boolean): string {
  if (json) {
    return JSON.stringify({ outcome: 'done', exit_code: 0, path: where, bytes: r.bytes, profile_rows: r.profileRows, journal_rows: r.journalRows, alerts: r.alerts, schema_version: r.schemaVersion, sensor_id: r.sensorId, check: r.check, daemon_flushed: flushed, ms: Math.round(r.ms) });
  }
  return `backup written to ${where === '-' ? 'standard output' : where}: ${humanBytes(r.bytes)}, ${counted(r.profileRows + r.journalRows, 'profile row')}, ${counted(r.alerts, 'alert')}, ` +
    `schema ${r.schemaVersion}, sensor ${r.sensorId}; quick_check ${r.check}${flushed ? ' (sensord flushed first)' : ''}`;
}

/**
 * `backup -`: the verified copy is made in a private temporary directory, then streamed to standard
 * output (a database is random-access while it is written, so it cannot be built on a pipe).
 */
async function backupToStdout(ctx: ReturnType<typeof context>, args: Args): Promise<number> {
  if (process.stdout.isTTY) throw new CliError(EXIT.USAGE, 'standard output is a terminal; redirect it to a file (sensorctl backup - > sensor-backup.db)');
  const flushed = args.flush ? await flushDaemonIfRunning(ctx) : false;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sensor-backup-'));
  const forget = trackTemporary(dir);
  const store = openSensorDb(ctx.dbPath, { readonly: true });
  try {
    const r = await backupDatabase(store.db, path.join(dir, 'backup.db'));
    await pipeline(fs.createReadStream(r.path), process.stdout, { end: false });
    process.stderr.write(`${summary(r, '-', flushed, args.json === true)}\n`);
    return EXIT.OK;
  } catch (err) {
    if (err instanceof BackupError) throw new CliError(EXIT.IO, err.message);
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code === 'SQLITE_FULL' || code === 'ENOSPC') throw new CliError(EXIT.IO, `no space left in ${os.tmpdir()} for the copy to stream (set TMPDIR to a filesystem with room)`);
    throw err;
  } finally {
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
    forget();
  }
}
