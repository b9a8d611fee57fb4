/**
 * Robustness (issue 3): no byte sequence crashes the sensor or makes it hang.
 *
 * 1. Every saved regression input under test/fixtures/fuzz-regressions/ is replayed through the
 *    reader and the engine: nothing but a CaptureFormatError may escape, no frame may be slow.
 * 2. A seeded campaign mutates the shared conformance captures (../shared/conformance/foxio/pcap)
 *    at the frame level (fed straight into FingerprintEngine.handleFrame) and at the file level
 *    (through CaptureReader in random chunk sizes): at least FUZZ_COUNT inputs (default 100,000).
 *    It runs in worker threads, so that an input that never ends is detected (the worker's
 *    heartbeat stops), the worker terminated, and the input regenerated from its seed and saved.
 *    Every failing input is saved as a regression fixture, minimised where it can be.
 *
 * Environment: FUZZ_SEED (default 24301), FUZZ_COUNT (100000), FUZZ_THREADS (2), FUZZ_SLOW_MS
 * (per-input time limit, 2000), FUZZ_HANG_MS (no-progress limit, 30000).
 */
import { Worker } from 'node:worker_threads';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { loadCorpus } from './corpus.js';
import { generateFileInput, generateRound } from './mutate.js';
import { HB_SLOTS, feedFile, fileFailure, roundFailure, type FailureReport, type ShardConfig, type ShardMessage } from './campaign.js';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const corpusDir = resolve(root, '../shared/conformance/foxio/pcap');
const fixturesDir = join(root, 'test/fixtures/fuzz-regressions');

const env = (name: string, fallback: number): number => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, not ${v}`);
  return n;
};
const SEED = env('FUZZ_SEED', 24301) >>> 0;
const COUNT = env('FUZZ_COUNT', 100_000);
const THREADS = Math.max(1, env('FUZZ_THREADS', 2));
const SLOW_MS = env('FUZZ_SLOW_MS', 2000);
const HANG_MS = env('FUZZ_HANG_MS', 30_000);
/** Share of the inputs that are whole damaged files (the rest are mutated frames). */
const FILE_SHARE = 0.03;

const fixtureFiles = existsSync(fixturesDir) ? readdirSync(fixturesDir).filter((f) => /\.(pcap|pcapng)$/.test(f)).sort() : [];

describe('fuzz regression fixtures', () => {
  test('the regression folder exists and says what it holds', () => {
    expect(existsSync(join(fixturesDir, 'README.md'))).toBe(true);
  });

  if (fixtureFiles.length > 0) {
    test.each(fixtureFiles)('%s replays without an escaping exception or a slow frame', (name) => {
      const bytes = readFileSync(join(fixturesDir, name));
      for (const chunks of [null, [4096]]) {
        const sizes = chunks === null ? null : Array.from({ length: Math.ceil(bytes.length / chunks[0]) + 1 }, () => chunks[0]);
        const problem = feedFile(bytes, sizes, SLOW_MS);
        const what = problem === null ? null : problem.error instanceof Error ? problem.error.stack : problem.error !== undefined ? String(problem.error) : `slow: ${problem.slowMs} ms`;
        expect(what).toBeNull();
      }
    });
  }
});

/** Transpiles src/ and the fuzz sources to JS for the worker threads (no type checking: ts-jest's view of the same code). */
function buildWorker(): { dir: string; entry: string } {
  const out = join(root, 'node_modules/.cache', `fuzz-worker-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  const sources: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) sources.push(path);
    }
  };
  for (const dir of ['src', 'test/fuzz', 'test/helpers']) walk(join(root, dir));
  for (const path of sources) {
    const js = ts.transpileModule(readFileSync(path, 'utf8'), {
      fileName: path,
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, isolatedModules: true, preserveConstEnums: true, esModuleInterop: true },
    }).outputText;
    const target = join(out, relative(root, path)).replace(/\.ts$/, '.js');
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, js);
  }
  // Resolves bare imports from the repository's node_modules above, as ES modules.
  writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  return { dir: out, entry: join(out, 'test/fuzz/campaign.js') };
}

interface Done { frameInputs: number; fileInputs: number; frames: number; rounds: number; ms: number; records: number; maxMs: number }

const corpusPresent = existsSync(corpusDir);
if (!corpusPresent) console.warn(`fuzz campaign skipped: ${corpusDir} not found (the shared conformance captures are not beside the repository)`);

(corpusPresent ? describe : describe.skip)('fuzz campaign over the shared captures', () => {
  test(`at least ${COUNT.toLocaleString('en-US')} mutated inputs (seed ${SEED}): no exception escapes, no input hangs`, async () => {
    const captures = loadCorpus(corpusDir);
    expect(captures.length).toBeGreaterThan(0);
    const worker = buildWorker();
    const frameTarget = Math.ceil((COUNT * (1 - FILE_SHARE)) / THREADS);
    const fileTarget = Math.ceil((COUNT * FILE_SHARE) / THREADS);
    const heartbeat = new SharedArrayBuffer(THREADS * HB_SLOTS * 4);
    const hb = new Int32Array(heartbeat);
    const failures: FailureReport[] = [];
    const done: Done[] = [];
    const started = Date.now();

    const runShard = (shard: number) => new Promise<void>((resolveShard) => {
      const cfg: ShardConfig = { campaign: true, seed: SEED, shard, shards: THREADS, frameTarget, fileTarget, corpusDir, slowMs: SLOW_MS, heartbeat };
      const w = new Worker(pathToFileURL(worker.entry), { workerData: cfg });
      let seen = -1;
      let changed = Date.now();
      const watchdog = setInterval(() => {
        const now = Atomics.load(hb, shard * HB_SLOTS);
        if (now !== seen) { seen = now; changed = Date.now(); return; }
        if (Date.now() - changed < HANG_MS) return;
        clearInterval(watchdog);
        // The input it is stuck on, regenerated from the seed.
        const phase = Atomics.load(hb, shard * HB_SLOTS + 3);
        const index = Atomics.load(hb, shard * HB_SLOTS + 1);
        const at = Atomics.load(hb, shard * HB_SLOTS + 2);
        if (phase === 0) {
          const round = generateRound(captures, SEED, index);
          failures.push(roundFailure('hang', SEED, index, round.capture, round.fed, { at }, SLOW_MS));
        } else {
          failures.push(fileFailure('hang', SEED, index, generateFileInput(captures, SEED, index), { at: -1 }));
        }
        void w.terminate();
      }, 500);
      w.on('message', (m: ShardMessage) => {
        if (m.type === 'failure') failures.push({ ...m.failure, fixture: Buffer.from(m.failure.fixture) });
        else if (m.type === 'done') done.push(m);
      });
      w.on('error', (err) => {
        failures.push({ kind: 'exception', level: 'frame', seed: SEED, index: -1, capture: '(worker)', op: null, message: String(err), stack: err.stack ?? '', fixtureName: '', fixture: new Uint8Array(), frames: 0 });
      });
      w.on('exit', () => {
        clearInterval(watchdog);
        resolveShard();
      });
    });

    try {
      await Promise.all(Array.from({ length: THREADS }, (_, shard) => runShard(shard)));
    } finally {
      rmSync(worker.dir, { recursive: true, force: true });
    }

    for (const f of failures) {
      if (f.fixtureName === '') continue;
      mkdirSync(fixturesDir, { recursive: true });
      writeFileSync(join(fixturesDir, f.fixtureName), f.fixture);
      const { fixture: _bytes, ...about } = f;
      writeFileSync(join(fixturesDir, f.fixtureName.replace(/\.(pcapng|pcap)$/, '.json')), JSON.stringify(about, null, 2) + '\n');
    }

    const frameInputs = done.reduce((n, d) => n + d.frameInputs, 0);
    const fileInputs = done.reduce((n, d) => n + d.fileInputs, 0);
    const frames = done.reduce((n, d) => n + d.frames, 0);
    const rounds = done.reduce((n, d) => n + d.rounds, 0);
    const records = done.reduce((n, d) => n + d.records, 0);
    const slowest = done.reduce((n, d) => Math.max(n, d.maxMs), 0);
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `fuzz: seed ${SEED} (FUZZ_SEED), ${(frameInputs + fileInputs).toLocaleString('en-US')} mutated inputs ` +
      `(${frameInputs.toLocaleString('en-US')} frames in ${rounds.toLocaleString('en-US')} rounds over ${captures.length} captures, ` +
      `${fileInputs.toLocaleString('en-US')} whole damaged files), ${frames.toLocaleString('en-US')} frames handled, ` +
      `${records.toLocaleString('en-US')} fingerprints emitted, slowest input ${slowest.toFixed(1)} ms, ` +
      `${seconds.toFixed(1)} s on ${THREADS} thread(s); failures: ${failures.length}` +
      failures.map((f) => `\n  ${f.kind} (${f.level}) ${f.capture} #${f.index} [${f.op ?? ''}]: ${f.message}\n    saved as test/fixtures/fuzz-regressions/${f.fixtureName}\n    ${f.stack.split('\n').slice(0, 6).join('\n    ')}`).join(''),
    );
    expect(failures.map((f) => `${f.kind} ${f.level} ${f.capture} #${f.index}: ${f.message} → ${f.fixtureName}`)).toEqual([]);
    expect(done).toHaveLength(THREADS);
    expect(frameInputs + fileInputs).toBeGreaterThanOrEqual(COUNT);
    // The engine got past the damage to real work, not just rejections.
    if (COUNT >= 1000) expect(records).toBeGreaterThan(0);
  }, 30 * 60 * 1000);
});
