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
    case 'server': return flow.server.includes(':') ? `[${flow.server}]:${flow.serverPort}` : `${flow.server}:${flow.serverPort}`;
    default: return flow.values[field];
  }
}

export interface Observation {
  verdict: Verdict;
  pair: ProfilePair;
}

export class ProfileFeed {
  /** Per flow, per pair index: the last (anchor, companion) combination observed. */
  private readonly observed = new WeakMap<Flow, (string | undefined)[]>();
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
      let seen = this.observed.get(flow);
      if (seen === undefined) {
        seen = new Array<string | undefined>(pairs.length);
        this.observed.set(flow, seen);
      }
      const combo = `${anchor}\u0000${companion}`;
      if (seen[i] === combo) continue;
      seen[i] = combo;
      this.observations++;
      const verdict = this.profiler.observePair(i, anchor, companion, nowMs);
      if (verdict !== null) (out ??= []).push({ verdict, pair });
    }
    return out;
  }
}
