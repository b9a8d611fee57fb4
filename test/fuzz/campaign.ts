/**
 * The fuzz campaign proper: runs rounds of mutated frames through a fresh FingerprintEngine each,
 * then whole damaged files through CaptureReader → engine, and reports every input that threw
 * (anything but the reader's CaptureFormatError) or took longer than SLOW_MS. It runs in worker
 * threads started by fuzz.test.ts (transpiled from this source), so that a true hang can be
 * stopped from outside: each worker ticks a shared heartbeat, and the test terminates a worker
 * whose heartbeat stops, then regenerates the input it was on from (seed, round, index).
 * The same functions replay the saved regression fixtures in process.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { CaptureFormatError, CaptureReader, type RawFrame } from '../../src/capture/capture-reader.js';
import { FingerprintEngine } from '../../src/fingerprint/engine.js';
import { PcapngWriter } from '../helpers/packets.js';
import { loadCorpus } from './corpus.js';
import { generateFileInput, generateRound, type Capture, type Fed, type FileInput } from './mutate.js';

export interface Problem {
  /** Index into the fed frames (frames.length: at the end-of-capture flush), or -1 for a whole file. */
  at: number;
  error?: unknown;
  slowMs?: number;
}

export interface FailureReport {
  kind: 'exception' | 'slow' | 'hang';
  level: 'frame' | 'file';
  seed: number;
  index: number;
  capture: string;
  op: string | null;
  message: string;
  stack: string;
  fixtureName: string;
  fixture: Uint8Array;
  frames: number;
}

export interface ShardConfig {
  campaign: true;
  seed: number;
  shard: number;
  shards: number;
  frameTarget: number;
  fileTarget: number;
  corpusDir: string;
  slowMs: number;
  heartbeat: SharedArrayBuffer;
}

export type ShardMessage =
  | { type: 'progress'; shard: number; inputs: number }
  | { type: 'failure'; failure: FailureReport }
  | { type: 'done'; shard: number; frameInputs: number; fileInputs: number; frames: number; rounds: number; ms: number; records: number; maxMs: number };

/** Heartbeat slots per shard: frames handled (ever-increasing), round or file index, fed index, phase (0 frames, 1 files). */
export const HB_SLOTS = 4;

/** What a campaign saw: fingerprints emitted (proof the engine got past the damage) and the slowest input. */
export interface FeedStats {
  records: number;
  maxMs: number;
}

function engineWith(secrets: readonly [number, Buffer][], stats?: FeedStats): FingerprintEngine {
  // Serialise every record, as the CLI and daemon do: a value JSON cannot carry is a bug too.
  const engine = new FingerprintEngine((record) => {
    JSON.stringify(record);
    if (stats) stats.records++;
  });
  for (const [type, data] of secrets) engine.addSecrets(type, data);
  return engine;
}

function rawFrame(f: Fed, i: number): RawFrame {
  return { frame: i + 1, tsUs: f.tsUs, linkType: f.linkType, interfaceId: 0, data: f.data, origLen: f.data.length };
}

/** Feeds frames to a fresh engine, then flushes it; the first exception or slow input, else null. */
export function feedFrames(secrets: readonly [number, Buffer][], fed: readonly Fed[], slowMs: number, tick?: (i: number) => void, stats?: FeedStats): Problem | null {
  const engine = engineWith(secrets, stats);
  for (let i = 0; i < fed.length; i++) {
    tick?.(i);
    const t = performance.now();
    try {
      engine.handleFrame(rawFrame(fed[i], i));
    } catch (error) {
      return { at: i, error };
    }
    const ms = performance.now() - t;
    if (stats && ms > stats.maxMs) stats.maxMs = ms;
    if (ms > slowMs) return { at: i, slowMs: ms };
  }
  const t = performance.now();
  try {
    engine.finish();
  } catch (error) {
    return { at: fed.length, error };
  }
  const ms = performance.now() - t;
  if (stats && ms > stats.maxMs) stats.maxMs = ms;
  return ms > slowMs ? { at: fed.length, slowMs: ms } : null;
}

/**
 * A whole capture file through the reader (in the given chunk sizes) into a fresh engine. A
 * CaptureFormatError is the clean end of a damaged file; anything else escaping is a failure.
 */
export function feedFile(bytes: Buffer, chunkSizes: readonly number[] | null, slowMs: number, tick?: () => void, stats?: FeedStats): Problem | null {
  const engine = engineWith([], stats);
  let slow = 0;
  const reader = new CaptureReader((f) => {
    tick?.();
    const t = performance.now();
    engine.handleFrame(f);
    slow = Math.max(slow, performance.now() - t);
  }, (type, data) => engine.addSecrets(type, data));
  const done = (p: Problem | null) => {
    if (stats && slow > stats.maxMs) stats.maxMs = slow;
    return p;
  };
  try {
    if (chunkSizes === null) {
      reader.push(bytes);
    } else {
      let off = 0;
      for (const n of chunkSizes) {
        if (off >= bytes.length) break;
        reader.push(bytes.subarray(off, off + n));
        off += n;
      }
    }
    reader.end();
  } catch (error) {
    if (!(error instanceof CaptureFormatError)) return done({ at: -1, error });
  }
  try {
    engine.finish();
  } catch (error) {
    return done({ at: -1, error });
  }
  return done(slow > slowMs ? { at: -1, slowMs: slow } : null);
}

/** The frames as a pcapng the reader replays identically: an interface per link type, ns timestamps, the secrets. */
export function framesFixture(capture: Capture, fed: readonly Fed[], note: string): Buffer {
  const w = new PcapngWriter(false).shb([[1, Buffer.from(note)]]);
  const ifaces = new Map<number, number>();
  for (const f of fed) {
    if (!ifaces.has(f.linkType)) {
      ifaces.set(f.linkType, ifaces.size);
      w.idb(f.linkType, { tsresol: 9 });
    }
  }
  for (const [type, data] of capture.secrets) w.dsb(type, data);
  for (const f of fed) w.epb(ifaces.get(f.linkType) as number, BigInt(Math.round(f.tsUs * 1000)), f.data);
  return w.toBuffer();
}

function describe(error: unknown): { message: string; stack: string } {
  if (error instanceof Error) return { message: `${error.name}: ${error.message}`, stack: error.stack ?? error.message };
  return { message: String(error), stack: String(error) };
}

/** Shrinks a failing frame sequence (fewer frames, same error message) within a bounded number of replays. */
export function minimize(secrets: readonly [number, Buffer][], fed: Fed[], message: string, slowMs: number, tick?: () => void): Fed[] {
  const fails = (subset: Fed[]) => {
    const p = feedFrames(secrets, subset, slowMs, tick);
    return p !== null && p.error !== undefined && describe(p.error).message === message;
  };
  let cur = fed;
  if (cur.length > 1 && fails(cur.slice(-1))) return cur.slice(-1);
  let chunk = Math.ceil(cur.length / 2);
  let attempts = 0;
  while (chunk >= 1 && attempts < 400) {
    let removed = false;
    for (let s = 0; s < cur.length && attempts < 400; s += chunk) {
      const candidate = cur.slice(0, s).concat(cur.slice(s + chunk));
      attempts++;
      if (candidate.length > 0 && fails(candidate)) {
        cur = candidate;
        removed = true;
        s -= chunk;
      }
    }
    if (!removed) chunk = Math.floor(chunk / 2);
  }
  return cur;
}

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, '_');

export function roundFailure(kind: FailureReport['kind'], seed: number, round: number, capture: Capture, fed: Fed[], problem: Problem, slowMs: number, tick?: () => void): FailureReport {
  const { message, stack } = problem.error !== undefined ? describe(problem.error)
    : kind === 'hang' ? { message: 'no progress (hang)', stack: '' } : { message: `input took ${Math.round(problem.slowMs ?? 0)} ms`, stack: '' };
  const failing = fed.slice(0, Math.min(fed.length, problem.at + 1));
  const op = problem.at < fed.length ? fed[problem.at].op : 'end-of-capture flush';
  const frames = kind === 'exception' ? minimize(capture.secrets, failing, message, slowMs, tick) : failing;
  const note = `fuzz regression: ${kind} on ${capture.name}, seed ${seed}, round ${round}, fed frame ${problem.at} (${op ?? 'unmutated'}): ${message}`;
  return {
    kind, level: 'frame', seed, index: round, capture: capture.name, op, message, stack,
    fixtureName: `frames-${safeName(capture.name.replace(/\.(pcapng|pcap)$/, ''))}-seed${seed}-round${round}.pcapng`,
    fixture: framesFixture(capture, frames, note),
    frames: frames.length,
  };
}

export function fileFailure(kind: FailureReport['kind'], seed: number, index: number, input: FileInput, problem: Problem): FailureReport {
  const { message, stack } = problem.error !== undefined ? describe(problem.error)
    : kind === 'hang' ? { message: 'no progress (hang)', stack: '' } : { message: `a frame took ${Math.round(problem.slowMs ?? 0)} ms`, stack: '' };
  const ext = input.bytes.length >= 4 && input.bytes.readUInt32LE(0) === 0x0a0d0d0a ? 'pcapng' : 'pcap';
  return {
    kind, level: 'file', seed, index, capture: input.capture.name, op: input.ops.join(','), message, stack,
    fixtureName: `file-${safeName(input.capture.name.replace(/\.(pcapng|pcap)$/, ''))}-seed${seed}-input${index}.${ext}`,
    fixture: input.bytes,
    frames: -1,
  };
}

async function shardMain(cfg: ShardConfig): Promise<void> {
  const post = (m: ShardMessage) => parentPort?.postMessage(m);
  const captures = loadCorpus(cfg.corpusDir);
  const hb = new Int32Array(cfg.heartbeat);
  const base = cfg.shard * HB_SLOTS;
  const started = performance.now();
  let frameInputs = 0;
  let fileInputs = 0;
  let frames = 0;
  let rounds = 0;
  const stats: FeedStats = { records: 0, maxMs: 0 };
  let lastProgress = started;
  const progress = () => {
    if (performance.now() - lastProgress > 2000) {
      lastProgress = performance.now();
      post({ type: 'progress', shard: cfg.shard, inputs: frameInputs + fileInputs });
    }
  };
  Atomics.store(hb, base + 3, 0);
  for (let r = cfg.shard; frameInputs < cfg.frameTarget; r += cfg.shards) {
    const round = generateRound(captures, cfg.seed, r);
    Atomics.store(hb, base + 1, r);
    const problem = feedFrames(round.capture.secrets, round.fed, cfg.slowMs, (i) => {
      Atomics.store(hb, base + 2, i);
      Atomics.add(hb, base, 1);
    }, stats);
    frameInputs += round.mutated;
    frames += round.fed.length;
    rounds++;
    if (problem !== null) {
      const kind = problem.error !== undefined ? 'exception' : 'slow';
      post({ type: 'failure', failure: roundFailure(kind, cfg.seed, r, round.capture, round.fed, problem, cfg.slowMs, () => Atomics.add(hb, base, 1)) });
    }
    progress();
  }
  Atomics.store(hb, base + 3, 1);
  for (let k = cfg.shard; fileInputs < cfg.fileTarget; k += cfg.shards) {
    Atomics.store(hb, base + 1, k);
    Atomics.store(hb, base + 2, -1);
    const input = generateFileInput(captures, cfg.seed, k);
    const problem = feedFile(input.bytes, input.chunkSizes, cfg.slowMs, () => {
      Atomics.add(hb, base, 1);
      frames++;
    }, stats);
    Atomics.add(hb, base, 1);
    fileInputs++;
    if (problem !== null) {
      post({ type: 'failure', failure: fileFailure(problem.error !== undefined ? 'exception' : 'slow', cfg.seed, k, input, problem) });
    }
    progress();
  }
  post({ type: 'done', shard: cfg.shard, frameInputs, fileInputs, frames, rounds, ms: performance.now() - started, ...stats });
}

if (!isMainThread && (workerData as ShardConfig | undefined)?.campaign === true) {
  void shardMain(workerData as ShardConfig);
}
