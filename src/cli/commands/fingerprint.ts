/** `sensorctl fingerprint FILE`: JSON lines, one per fingerprint observation (the conformance contract). */
import type { Argv, CommandModule } from 'yargs';
import { CaptureError } from '../../capture/source.js';
import { ConfigError, MAX_KEYLOG_BYTES, readBoundedFile } from '../../daemon/config.js';
import { startFingerprinting } from '../../fingerprint/fingerprint-capture.js';
import { ALL_METHODS, type FingerprintType } from '../../fingerprint/record.js';
import { keyLogSecretCount } from '../../fingerprint/decrypt/secrets.js';
import { fail, LineWriter } from '../output.js';
import { EXIT, stdinOrPath } from '../common.js';
import { unsupportedLinkTypeMessage } from '../../capture/decode.js';

interface Args {
  file: string;
  methods?: string;
  keylog?: string;
  'ssh-window'?: number;
}

export function parseMethods(list: string | undefined): FingerprintType[] | undefined {
  if (list === undefined) return undefined;
  const out: FingerprintType[] = [];
  for (const raw of list.split(',')) {
    const m = raw.trim().toLowerCase();
    if (m === '') continue;
    if (!(ALL_METHODS as readonly string[]).includes(m)) {
      throw new Error(`unknown fingerprint method "${m}" (known: ${ALL_METHODS.join(', ')})`);
    }
    out.push(m as FingerprintType);
  }
  if (out.length === 0) throw new Error(`--methods names no method; list one or more of ${ALL_METHODS.join(', ')}`);
  return out;
}

export const fingerprintCommand: CommandModule<object, Args> = {
  command: 'fingerprint <file>',
  describe: 'Print the JA4+ fingerprints of a pcap/pcapng capture as JSON lines',
  builder: (y: Argv) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'capture file, or - for standard input' })
      .option('methods', { type: 'string', describe: `comma-separated methods to run (default: all: ${ALL_METHODS.join(',')})` })
      .option('keylog', { type: 'string', describe: 'NSS key-log file with TLS/QUIC secrets for decryption' })
      .option('ssh-window', { type: 'number', describe: 'JA4SSH window in packets per direction (default 200)' })
      .example('$0 fingerprint capture.pcapng', 'all fingerprints, one JSON object per line')
      .example('$0 fingerprint --methods ja4,ja4t capture.pcap | jq .value', 'only JA4 and JA4T')
      .epilog('Exit codes: 0 done; 2 capture missing, unreadable or damaged (the fingerprints up to the damage are printed); ' +
        '64 usage error (unknown method, bad --ssh-window); 66 key-log file missing; 77 key-log file not readable; 1 unexpected error.') as unknown as Argv<Args>,
  handler: async (args) => {
    let methods: FingerprintType[] | undefined;
    let keyLog: Buffer | undefined;
    try {
      methods = parseMethods(args.methods);
    } catch (err) {
      fail((err as Error).message, EXIT.USAGE);
    }
    const sshWindow = args['ssh-window'];
    if (sshWindow !== undefined && !(Number.isInteger(sshWindow) && sshWindow >= 1 && sshWindow <= 1_000_000)) {
      fail(`--ssh-window must be a whole number of packets from 1 to 1000000 (got ${args['ssh-window']})`, EXIT.USAGE);
    }
    if (args.keylog) {
      try {
        keyLog = readBoundedFile(args.keylog, MAX_KEYLOG_BYTES, 'key-log file');
      } catch (err) {
        if (err instanceof ConfigError) fail(err.message, EXIT.USAGE);
        const code = (err as NodeJS.ErrnoException).code;
        const exit = code === 'ENOENT' ? EXIT.NO_INPUT : code === 'EACCES' || code === 'EPERM' ? EXIT.NO_PERMISSION : EXIT.IO;
        const why = code === 'ENOENT' ? 'no such file' : (err as Error).message;
        fail(`cannot read key-log file ${args.keylog}: ${why}`, exit);
      }
      if (keyLogSecretCount(keyLog) === 0) {
        process.stderr.write(`sensorctl: warning: key-log file ${args.keylog} holds no TLS secrets (lines such as CLIENT_RANDOM <hex> <hex>); nothing will be decrypted with it\n`);
      }
    }
    let file: string;
    try {
      file = stdinOrPath(args.file);
    } catch (err) {
      fail((err as Error).message, EXIT.USAGE);
    }
    const out = new LineWriter();
    const spec = file === '-' ? { kind: 'stdin' as const } : { kind: 'file' as const, path: file };
    const run = startFingerprinting(spec, (record) => out.line(JSON.stringify(record)), {
      methods, sshWindowPackets: args['ssh-window'],
    }, keyLog);
    run.engine.decoder.onUnsupportedLinkType = (linkType) => process.stderr.write(`sensorctl: ${file}: ${unsupportedLinkTypeMessage(linkType)}\n`);
    try {
      await run.done;
    } catch (err) {
      await out.end();
      if (err instanceof CaptureError) fail(err.message, err.exitCode);
      fail(`fingerprinting failed: ${(err as Error).message}`, 1, err);
    }
    await out.end();
  },
};
