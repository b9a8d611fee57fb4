/** The watchdog rule: fed on progress or while waiting for input, starved when input sits unread. */
import { madeProgress, PipelineWatchdog, type CaptureProgress } from '../../src/daemon/watchdog.js';

describe('madeProgress', () => {
  it('counts bytes taken since the last check, and an idle reader, as progress', () => {
    expect(madeProgress(null, { bytesRead: 0, inputPending: true })).toBe(true);
    expect(madeProgress({ bytesRead: 10, inputPending: true }, { bytesRead: 20, inputPending: true })).toBe(true);
    expect(madeProgress({ bytesRead: 10, inputPending: false }, { bytesRead: 10, inputPending: false })).toBe(true);
  });

  it('is a stall when input waits and nothing was read for a whole period', () => {
    expect(madeProgress({ bytesRead: 10, inputPending: false }, { bytesRead: 10, inputPending: true })).toBe(false);
  });
});

describe('PipelineWatchdog', () => {
  function harness(states: CaptureProgress[]) {
    let i = 0;
    const pings: number[] = [];
    const stalls: number[] = [];
    const dog = new PipelineWatchdog(() => states[Math.min(i++, states.length - 1)], (n) => stalls.push(n), () => pings.push(i));
    return { dog, pings, stalls };
  }

  it('pings on every check while reading, stops while stalled and resumes after', () => {
    const { dog, pings, stalls } = harness([
      { bytesRead: 100, inputPending: false },
      { bytesRead: 200, inputPending: true },
      { bytesRead: 200, inputPending: true }, // stalled
      { bytesRead: 200, inputPending: true }, // still stalled
      { bytesRead: 300, inputPending: false },
    ]);
    const results = [dog.check(), dog.check(), dog.check(), dog.check(), dog.check()];
    expect(results).toEqual([true, true, false, false, true]);
    expect(pings).toEqual([1, 2, 5]);
    expect(stalls).toEqual([1, 2]);
    expect(dog.starved).toBe(0);
  });

  it('does nothing without a watchdog interval', () => {
    const { dog, pings } = harness([{ bytesRead: 0, inputPending: false }]);
    expect(dog.start(null)).toBe(false);
    expect(pings).toEqual([]);
  });
});
