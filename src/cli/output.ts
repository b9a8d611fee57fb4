/** Buffered line output: one write per 64 KB instead of one per record. */
export class LineWriter {
  private buf = '';

  constructor(private readonly stream: NodeJS.WritableStream = process.stdout, private readonly limit = 64 * 1024) {}

  line(s: string): void {
    this.buf += s;
    this.buf += '\n';
    if (this.buf.length >= this.limit) this.flushSync();
  }

  flushSync(): void {
    if (this.buf.length === 0) return;
    this.stream.write(this.buf);
    this.buf = '';
  }

  /** Flushes and waits until the stream has taken everything (pipes may be slow). */
  async end(): Promise<void> {
    this.flushSync();
    await new Promise<void>((resolve) => {
      if (this.stream.write('')) resolve();
      else this.stream.once('drain', () => resolve());
    });
  }
}

/** Prints one line a person can act on and sets the exit code (no stack trace unless --debug). */
export function fail(message: string, exitCode: number, debugErr?: unknown): never {
  process.stderr.write(`sensorctl: ${message}\n`);
  if (debugErr !== undefined && process.argv.includes('--debug') && debugErr instanceof Error && debugErr.stack) {
    process.stderr.write(`${debugErr.stack}\n`);
  }
  process.exit(exitCode);
}

/** "1 alert", "2 alerts": a count with its noun, for the lines people read. */
export function counted(n: number, noun: string, pluralNoun = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : pluralNoun}`;
}
