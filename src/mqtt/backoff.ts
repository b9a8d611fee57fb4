/** Reconnect delays: capped exponential backoff with jitter, so a fleet does not reconnect in lockstep. */

export interface BackoffOptions {
  minMs: number;
  maxMs: number;
}

/**
 * Delay before reconnect attempt number `attempt` (0 for the first retry). The ceiling doubles per
 * attempt up to maxMs; the delay is drawn from the upper half of it ("equal jitter"), so it never
 * collapses to zero and never exceeds the cap.
 */
export function reconnectDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(opts.maxMs, opts.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
