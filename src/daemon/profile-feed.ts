/**
 * Turns a connection's fingerprints into profile observations: when a flow has values for both
 * fields of a configured pair, the profiler sees (anchor, companion) once for that flow, and again
 * only if the flow shows a different combination (a second HTTP request with another JA4H).
 */
import type { Flow } from '../capture/flow-table.js';
import type { BehaviorProfiler, ProfilePair, Verdict } from '../anomaly/profiler.js';
import type { FingerprintRecord } from '../fingerprint/record.js';

/** A connection property (not a fingerprint) a pair may name. */
export function flowField(flow: Flow, field: string): string | undefined {
  switch (field) {
    case 'client_ip': return flow.client;
    case 'server_ip': return flow.server;
    case 'server_port': return String(flow.serverPort);
    case 'server': return flow.serverEndpoint;
    default: return flow.values[field];
  }
}

export interface Observation {
  verdict: Verdict;
  pair: ProfilePair;
}

export class ProfileFeed {
  observations = 0;

  constructor(private readonly profiler: BehaviorProfiler, private readonly pairs: readonly ProfilePair[] = profiler.pairs) {}

  /** Feeds one fingerprint record; returns the verdicts (alerts) it raised, usually none. */
  onRecord(record: FingerprintRecord, flow: Flow, nowMs: number): Observation[] | null {
    let out: Observation[] | null = null;
    const pairs = this.pairs;
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairs[i];
      if (pair.anchor !== record.type && pair.companion !== record.type) continue;
      const anchor = pair.anchor === record.type ? record.value : flowField(flow, pair.anchor);
      const companion = pair.companion === record.type ? record.value : flowField(flow, pair.companion);
      if (anchor === undefined || companion === undefined) continue;
      // Per flow, per pair: the last anchor and companion observed (at 2i and 2i+1).
      let seen = flow.consumerState as (string | undefined)[] | null;
      if (seen === null || seen.length !== 2 * pairs.length) {
        seen = new Array<string | undefined>(2 * pairs.length);
        flow.consumerState = seen;
      }
      if (seen[2 * i] === anchor && seen[2 * i + 1] === companion) continue;
      seen[2 * i] = anchor;
      seen[2 * i + 1] = companion;
      this.observations++;
      const verdict = this.profiler.observePair(i, anchor, companion, nowMs);
      if (verdict !== null) (out ??= []).push({ verdict, pair });
    }
    return out;
  }
}
