/**
 * The systemd watchdog, fed only while the pipeline makes progress. Two ways to be stuck:
 *  - the event loop is blocked (a parser that never returns, a hung synchronous write): then this
 *    timer cannot fire, pings stop, and systemd restarts the service after WatchdogSec;
 *  - the loop runs but the capture does not: input is waiting and no byte of it has been taken
 *    for a whole check period (processing a chunk takes milliseconds).
 * A quiet link is not stuck: no input pending means the reader is waiting for packets.
 */
import { notifyWatchdog, watchdogIntervalMs } from './sd-notify.js';

export interface CaptureProgress {
  bytesRead: number;
  inputPending: boolean;
}

/** One check: progress since `previous`, or idle waiting for input. */
export function madeProgress(previous: CaptureProgress | null, now: CaptureProgress): boolean {
  if (previous === null || now.bytesRead !== previous.bytesRead) return true;
  return !now.inputPending;
}

export class PipelineWatchdog {
  private timer: NodeJS.Timeout | null = null;
  private last: CaptureProgress | null = null;
  /** Checks that starved the watchdog, for the log. */
  starved = 0;

  constructor(
    private readonly probe: () => CaptureProgress,
    private readonly onStall: (stalledChecks: number) => void = () => {},
    private readonly ping: () => unknown = notifyWatchdog,
  ) {}

  /** Starts feeding at half of WatchdogSec; does nothing when the unit sets no watchdog. */
  start(intervalMs: number | null = watchdogIntervalMs()): boolean {
    if (intervalMs === null) return false;
    this.ping();
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
    return true;
  }

  check(): boolean {
    const now = this.probe();
    const ok = madeProgress(this.last, now);
    this.last = { ...now };
    if (ok) {
      this.starved = 0;
      this.ping();
    } else {
      this.starved++;
      this.onStall(this.starved);
    }
    return ok;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
