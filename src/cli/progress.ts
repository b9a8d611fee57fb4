/**
 * A progress bar on stderr, only when stderr is a terminal and the job is large enough to be
 * worth one (scripts and logs get no escape codes). cli-progress redraws from update() even while
 * a synchronous loop keeps the event loop busy.
 */
import cliProgress from 'cli-progress';

export interface ProgressBar {
  start(label: string, total: number): void;
  update(done: number): void;
  stop(): void;
}

const NONE: ProgressBar = { start() {}, update() {}, stop() {} };

export function progressBar(opts: { enabled?: boolean; minTotal?: number; expected: number }): ProgressBar {
  const enabled = opts.enabled ?? (process.stderr.isTTY === true && opts.expected >= (opts.minTotal ?? 50_000));
  if (!enabled) return NONE;
  let bar: cliProgress.SingleBar | null = null;
  return {
    start(label, total) {
      bar?.stop();
      bar = new cliProgress.SingleBar({
        stream: process.stderr,
        format: `${label.padEnd(9)} [{bar}] {percentage}% | {value}/{total} rows | {eta_formatted} left`,
        hideCursor: true,
        clearOnComplete: true,
        fps: 10,
        etaBuffer: 50,
      }, cliProgress.Presets.shades_classic);
      bar.start(Math.max(total, 1), 0);
    },
    update(done) {
      if (bar && done > bar.getTotal()) bar.setTotal(done);
      bar?.update(done);
    },
    stop() {
      bar?.stop();
      bar = null;
    },
  };
}
