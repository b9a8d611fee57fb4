/**
 * Where capture bytes come from: a pcap/pcapng file, standard input (`tcpdump -w - | sensord --read -`)
 * or a tcpdump child process on a live interface. Every source streams into one CaptureReader, so
 * memory does not grow with the capture's size.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs, { createReadStream } from 'node:fs';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { CaptureFormatError, CaptureReader, type FrameHandler, type SecretsHandler } from './capture-reader.js';

export type CaptureSpec =
  | { kind: 'file'; path: string }
  | { kind: 'stdin' }
  | { kind: 'interface'; name: string; filter?: string; tcpdumpPath?: string; snaplen?: number };

export class CaptureError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'CaptureError';
  }
}

export interface CaptureResult {
  frames: number;
  bytes: number;
  /** True when the read was stopped from outside (shutdown) rather than reaching the end. */
  stopped: boolean;
}

export function describeCapture(spec: CaptureSpec): string {
  if (spec.kind === 'file') return spec.path;
  if (spec.kind === 'stdin') return 'standard input';
  return `interface ${spec.name}`;
}

export function tcpdumpArgs(spec: Extract<CaptureSpec, { kind: 'interface' }>): string[] {
  const args = ['-i', spec.name, '-U', '-w', '-', '-s', String(spec.snaplen ?? 0), '-n', '--immediate-mode'];
  if (spec.filter) args.push(spec.filter);
  return args;
}

/**
 * Reads the capture to its end (or until `stop()` on the returned handle is called), feeding each
 * frame to `onFrame`. Rejects with a CaptureError naming the source and the damage offset.
 */
export class CaptureRun {
  private child: ChildProcess | null = null;
  private stream: Readable | null = null;
  private stopRequested = false;
  /** Resolves on stop(): a read from a FIFO with no data does not return, and must not hold the stop up. */
  private readonly stopped: Promise<void>;
  private signalStopped: () => void = () => {};
  /** Settles the read in progress with "done" when stop() comes first (see run()). */
  private wakeReader: ((r: IteratorResult<Buffer>) => void) | null = null;
  private readonly reader: CaptureReader;
  readonly done: Promise<CaptureResult>;

  constructor(readonly spec: CaptureSpec, onFrame: FrameHandler, onSecrets?: SecretsHandler) {
    this.reader = new CaptureReader(onFrame, onSecrets);
    this.stopped = new Promise((resolve) => { this.signalStopped = resolve; });
    this.done = this.run();
  }

  get framesRead(): number {
    return this.reader.framesRead;
  }

  get bytesRead(): number {
    return this.reader.bytesRead;
  }

  /** Bytes have arrived that the reader has not taken yet (false while it waits for input). */
  get inputPending(): boolean {
    return (this.stream?.readableLength ?? 0) > 0;
  }

  stop(): void {
    this.stopRequested = true;
    this.signalStopped();
    this.wakeReader?.({ done: true, value: undefined });
    if (this.child && this.child.exitCode === null) this.child.kill('SIGTERM');
    else this.stream?.destroy();
  }

  private async open(): Promise<Readable> {
    const spec = this.spec;
    if (spec.kind === 'file') {
      if (fs.statSync(spec.path, { throwIfNoEntry: false })?.isFIFO()) return this.openFifo(spec.path);
      return createReadStream(spec.path, { highWaterMark: 256 * 1024 });
    }
    if (spec.kind === 'stdin') return process.stdin;
    const bin = spec.tcpdumpPath ?? process.env.SENSOR_TCPDUMP ?? 'tcpdump';
    const child = spawn(bin, tcpdumpArgs(spec), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    return child.stdout as Readable;
  }

  /**
   * A FIFO (`mkfifo`, `--read /dev/stdin` on a pipe) is read without blocking, as standard input
   * is: a blocking read sits in a thread-pool thread that a stop cannot interrupt and that even
   * process exit waits for. The first, blocking open waits for a writer (a stop meanwhile opens
   * the write end once to release it); the non-blocking descriptor is opened while it is held,
   * so nothing the writer sent is lost and its end still reads as end of capture.
   */
  private async openFifo(file: string): Promise<Readable> {
    void this.stopped.then(() => {
      try { fs.closeSync(fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)); } catch { /* no reader waiting */ }
    });
    const waiting = await fs.promises.open(file, 'r');
    try {
      const fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
      return new net.Socket({ fd, readable: true, writable: false });
    } finally {
      await waiting.close();
    }
  }

  private nextOrStop(chunks: AsyncIterator<Buffer>): Promise<IteratorResult<Buffer>> {
    return new Promise((resolve, reject) => {
      if (this.stopRequested) {
        resolve({ done: true, value: undefined });
        return;
      }
      this.wakeReader = resolve;
      chunks.next().then(resolve, reject).finally(() => {
        if (this.wakeReader === resolve) this.wakeReader = null;
      });
    });
  }

  private async run(): Promise<CaptureResult> {
    const name = describeCapture(this.spec);
    let stderr = '';
    let spawnError: NodeJS.ErrnoException | null = null;
    let exited: Promise<number | null> = Promise.resolve(0);
    let exitSignal: NodeJS.Signals | null = null;
    let stream: Readable;
    try {
      stream = await this.open();
    } catch (err) {
      throw new CaptureError(`cannot open ${name}: ${(err as Error).message}`);
    }
    this.stream = stream;
    const child = this.child;
    if (child) {
      child.stderr?.setEncoding('utf8');
      child.stderr?.on('data', (s: string) => { if (stderr.length < 4000) stderr += s; });
      exited = new Promise((resolve) => {
        child.on('error', (err) => { spawnError = err; resolve(null); });
        child.on('close', (code, signal) => { exitSignal = signal; resolve(code); });
      });
    }
    try {
      const chunks = stream[Symbol.asyncIterator]();
      for (;;) {
        // tcpdump's output ends when it is stopped; a file or FIFO read may never return, so a stop
        // request settles the read in progress (a read still pending then is left to process exit).
        // Not Promise.race against one long-lived stop promise: every race adds a reaction to it
        // that holds its result, so every chunk read stayed in memory until the run ended.
        const next = this.child ? await chunks.next() : await this.nextOrStop(chunks);
        if (next.done) break;
        this.reader.push(next.value as Buffer);
      }
    } catch (err) {
      if (err instanceof CaptureFormatError) {
        child?.kill('SIGTERM');
        throw new CaptureError(`${name}: ${err.message}`);
      }
      const e = err as NodeJS.ErrnoException;
      if (!this.stopRequested) {
        if (e.code === 'ENOENT') throw new CaptureError(`capture file not found: ${name}`);
        if (e.code === 'EACCES') throw new CaptureError(`permission denied reading ${name}`);
        if (e.code === 'EISDIR') throw new CaptureError(`${name} is a directory, not a capture file`);
        throw new CaptureError(`error reading ${name}: ${e.message}`);
      }
    }
    const code = await exited;
    if (spawnError !== null) {
      const se = spawnError as NodeJS.ErrnoException;
      if (se.code === 'ENOENT') {
        throw new CaptureError('tcpdump not found: install it (apt-get install tcpdump) or set tcpdump_path in the config', 3);
      }
      throw new CaptureError(`cannot start tcpdump: ${se.message}`, 3);
    }
    if (this.stopRequested) {
      return { frames: this.reader.framesRead, bytes: this.reader.bytesRead, stopped: true };
    }
    if (child && code !== 0) {
      const why = stderr.trim().split('\n').filter((l) => !l.startsWith('tcpdump: listening') && l.trim() !== '').pop() ?? '';
      const how = exitSignal !== null ? `was killed by ${String(exitSignal)}` : `exited with status ${code}`;
      throw new CaptureError(`tcpdump on ${name} ${how}${why ? `: ${why}` : ''}`, 3);
    }
    try {
      this.reader.end();
    } catch (err) {
      if (err instanceof CaptureFormatError) throw new CaptureError(`${name}: ${err.message}`);
      throw err;
    }
    return { frames: this.reader.framesRead, bytes: this.reader.bytesRead, stopped: false };
  }
}
