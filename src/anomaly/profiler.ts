/**
 * Behavioral profiler: for configured (anchor → companion) pairs, counts how often each companion
 * value is seen with each anchor value, and flags a companion that is new or rare for an anchor
 * that has been seen at least `minSeen` times.
 *
 * It knows nothing of SQLite. Persistence works through three small contracts:
 *  - `loadRow()` puts back a stored row without marking it dirty (start-up load);
 *  - `collectDirty()` / `commitDirty()` hand the rows changed since the last successful flush to a
 *    writer, and forget them only once that writer says the write committed;
 *  - `collectFold()` / `commitFold()` hand a writer that keeps a journal the current value of every
 *    row committed since its last compaction (each row once, however often it was written), so
 *    compaction costs what the table holds, not what the journal holds;
 *  - `serialize()` / `merge()` move whole profiles between sensors.
 *
 * Memory is bounded by `maxAnchors` and `maxCompanionsPerAnchor`; the least recently updated are
 * evicted, and evictions are reported to the writer so their rows are deleted at the next flush.
 * Per-companion state lives in typed arrays indexed by a slot number, so a million rows cost a
 * map entry and a key string each, not an object each.
 */

/** One configured pair. Field names are those of a flow's observations: ja4, ja4t, ja4h, ja4s, client_ip, server, ... */
export interface ProfilePair {
  anchor: string;
  companion: string;
}

export const DEFAULT_PAIRS: readonly ProfilePair[] = Object.freeze([
  { anchor: 'ja4', companion: 'ja4t' },
  { anchor: 'ja4', companion: 'ja4h' },
  { anchor: 'client_ip', companion: 'ja4' },
  { anchor: 'server', companion: 'ja4s' },
]);

/** The prefix every anchor key of a pair starts with: `ja4>ja4t:`. */
export function pairPrefix(pair: ProfilePair): string {
  return `${pair.anchor}>${pair.companion}:`;
}

/** `ja4>ja4t:t13d1516h2_8daaf6152771_02713d6af862` — totals are per pair because the key names the pair. */
export function anchorKeyOf(pair: ProfilePair, anchorValue: string): string {
  return pairPrefix(pair) + anchorValue;
}

/** Splits an anchor key back into its pair and anchor value; null when it is not of that form. */
export function parseAnchorKey(key: string): { pair: ProfilePair; value: string } | null {
  const gt = key.indexOf('>');
  const colon = gt < 0 ? -1 : key.indexOf(':', gt + 1);
  if (gt <= 0 || colon <= gt + 1) return null;
  return { pair: { anchor: key.slice(0, gt), companion: key.slice(gt + 1, colon) }, value: key.slice(colon + 1) };
}

/** A plain profile row, as stored and as exchanged between sensors. */
export interface BehaviorProfileEntry {
  anchor_key: string;
  companion_key: string;
  count: number;
  /** The anchor's total; repeated on every companion row of that anchor. */
  total_seen: number;
  /** Milliseconds since the epoch. */
  last_updated: number;
}

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

export type VerdictKind = 'new_companion' | 'rare_companion';

export interface Verdict {
  kind: VerdictKind;
  severity: Severity;
  /** The anchor key (`ja4>ja4t:<ja4>`). */
  anchor: string;
  companion: string;
  /** The companion's count with this anchor, this observation included. */
  count: number;
  /** The anchor's total, this observation included. */
  total_seen: number;
  message: string;
}

export interface ProfilerOptions {
  pairs?: readonly ProfilePair[];
  /** An anchor must have been seen this many times before its companions are judged. Default 50. */
  minSeen?: number;
  /** A known companion whose share of the anchor's observations is below this is rare. 0 disables. Default 0.01. */
  rarityFraction?: number;
  /** An alert for the same (anchor, companion) is not repeated within this window. Default 1 h. */
  alertWindowMs?: number;
  /** Default 200,000 anchors. */
  maxAnchors?: number;
  /** Default 64 companions per anchor. */
  maxCompanionsPerAnchor?: number;
  /** Rows (anchor, companion) in all; the least recently updated anchors go first. Default 1,000,000 (~200 MB). */
  maxRows?: number;
  /** Bound on remembered (anchor, companion) alert times. Default 10,000. */
  maxSuppressions?: number;
  newCompanionSeverity?: Severity;
  rareCompanionSeverity?: Severity;
}

/** What changed since the last committed flush, as handed to a writer. Parallel arrays, one index per row. */
export interface DirtyBatch {
  /** Whole anchors evicted: every stored row of each must be deleted. Apply before `upserts`. */
  deletedAnchors: string[];
  /** Single companions evicted: [anchor_key, companion_key]. Apply before `upserts`. */
  deletedRows: [string, string][];
  upserts: BehaviorProfileEntry[];
  /** Internal: slot and version of each upsert, so `commitDirty` forgets only what was written. */
  readonly slots: Int32Array;
  readonly versions: Uint32Array;
}

/**
 * companion value → slot, for one anchor. Most anchors have a handful of companions, and a Map
 * costs about 500 bytes even for ten entries; an exactly sized array of [companion, slot, ...]
 * pairs costs a third of that. Past SMALL_LIMIT companions a Map takes over, so lookups stay O(1).
 */
/**
 * The largest count or total a profile holds: far above any real sensor, far below 2^53. Merges
 * saturate here, so merged profiles stay within what an import accepts.
 */
export const MAX_COUNT = 2 ** 40;

const SMALL_LIMIT = 16;

class CompanionIndex {
  private list: (string | number)[] = [];
  private map: Map<string, number> | null = null;

  get size(): number {
    return this.map !== null ? this.map.size : this.list.length >> 1;
  }

  get(companion: string): number | undefined {
    if (this.map !== null) return this.map.get(companion);
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) if (list[i] === companion) return list[i + 1] as number;
    return undefined;
  }

  /** Adds a companion that is not present. */
  set(companion: string, slot: number): void {
    if (this.map !== null) {
      this.map.set(companion, slot);
    } else if (this.list.length >> 1 < SMALL_LIMIT) {
      // A new, exactly sized array: push() would leave growth slack on every anchor.
      const old = this.list;
      const next: (string | number)[] = new Array(old.length + 2);
      for (let i = 0; i < old.length; i++) next[i] = old[i]!;
      next[old.length] = companion;
      next[old.length + 1] = slot;
      this.list = next;
    } else {
      this.map = new Map();
      for (let i = 0; i < this.list.length; i += 2) this.map.set(this.list[i] as string, this.list[i + 1] as number);
      this.map.set(companion, slot);
      this.list = [];
    }
  }

  delete(companion: string): void {
    if (this.map !== null) {
      this.map.delete(companion);
      return;
    }
    const list = this.list;
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] !== companion) continue;
      list[i] = list[list.length - 2]!;
      list[i + 1] = list[list.length - 1]!;
      list.length -= 2;
      return;
    }
  }

  *[Symbol.iterator](): IterableIterator<[string, number]> {
    if (this.map !== null) {
      yield* this.map;
      return;
    }
    for (let i = 0; i < this.list.length; i += 2) yield [this.list[i] as string, this.list[i + 1] as number];
  }

  *values(): IterableIterator<number> {
    for (const [, slot] of this) yield slot;
  }
}

interface AnchorState {
  key: string;
  total: number;
  lastUpdated: number;
  companions: CompanionIndex;
}

const SEP = '\u0000';
const MAX_INTERNED = 262_144;

export class BehaviorProfiler {
  readonly pairs: readonly ProfilePair[];
  readonly minSeen: number;
  readonly rarityFraction: number;
  readonly alertWindowMs: number;
  readonly maxAnchors: number;
  readonly maxCompanionsPerAnchor: number;
  readonly maxRows: number;
  private readonly maxSuppressions: number;
  private readonly newSeverity: Severity;
  private readonly rareSeverity: Severity;
  private readonly prefixes: string[];

  private readonly anchors = new Map<string, AnchorState>();
  private rows = 0;

  // Slot storage for companion rows.
  private capacity = 0;
  private counts = new Float64Array(0);
  private updated = new Float64Array(0);
  private versions = new Uint32Array(0);
  /** 1 = committed (journaled) since the last fold. */
  private unfolded = new Uint8Array(0);
  private unfoldedCount = 0;
  private slotAnchor: (AnchorState | undefined)[] = [];
  private slotCompanion: (string | undefined)[] = [];
  private freeSlots: number[] = [];
  private nextSlot = 0;

  private readonly dirty = new Set<number>();
  private readonly interned = new Map<string, string>();
  private readonly pendingAnchorDeletes = new Set<string>();
  /** anchor_key + NUL + companion_key */
  private readonly pendingRowDeletes = new Set<string>();
  /** Deletions committed since the last fold. */
  private readonly unfoldedAnchorDeletes = new Set<string>();
  private readonly unfoldedRowDeletes = new Set<string>();
  /** anchor_key + NUL + companion → time of the last alert */
  private readonly lastAlert = new Map<string, number>();
  private evictedAnchors = 0;
  private evictedCompanions = 0;

  constructor(options: ProfilerOptions = {}) {
    this.pairs = Object.freeze([...(options.pairs ?? DEFAULT_PAIRS)]);
    this.prefixes = this.pairs.map(pairPrefix);
    this.minSeen = options.minSeen ?? 50;
    this.rarityFraction = options.rarityFraction ?? 0.01;
    this.alertWindowMs = options.alertWindowMs ?? 3_600_000;
    this.maxAnchors = options.maxAnchors ?? 200_000;
    this.maxCompanionsPerAnchor = options.maxCompanionsPerAnchor ?? 64;
    this.maxRows = options.maxRows ?? 1_000_000;
    this.maxSuppressions = options.maxSuppressions ?? 10_000;
    this.newSeverity = options.newCompanionSeverity ?? 'high';
    this.rareSeverity = options.rareCompanionSeverity ?? 'medium';
    if (!(this.minSeen >= 0)) throw new RangeError('minSeen must be >= 0');
    if (!(this.rarityFraction >= 0 && this.rarityFraction <= 1)) throw new RangeError('rarityFraction must be within [0, 1]');
    if (!(this.maxAnchors >= 1) || !(this.maxCompanionsPerAnchor >= 1) || !(this.maxRows >= 1)) throw new RangeError('caps must be >= 1');
    this.grow(1024);
  }

  get anchorCount(): number { return this.anchors.size; }
  get rowCount(): number { return this.rows; }
  get dirtyCount(): number { return this.dirty.size + this.pendingAnchorDeletes.size + this.pendingRowDeletes.size; }
  get evictions(): { anchors: number; companions: number } {
    return { anchors: this.evictedAnchors, companions: this.evictedCompanions };
  }

  /** The anchor key of `pairs[pairIndex]` for a value; cheap (one concatenation with a cached prefix). */
  keyFor(pairIndex: number, anchorValue: string): string {
    return this.prefixes[pairIndex]! + anchorValue;
  }

  /** Observes one (pair, anchor value, companion) triple. */
  observePair(pair: ProfilePair | number, anchorValue: string, companion: string, nowMs: number): Verdict | null {
    const key = typeof pair === 'number' ? this.keyFor(pair, anchorValue) : anchorKeyOf(pair, anchorValue);
    return this.observe(key, companion, nowMs);
  }

  /**
   * Counts one sighting of `companion` with the anchor `anchorKey` and judges it against what the
   * anchor had been seen with before. Returns a verdict when an alert is due, else null.
   */
  observe(anchorKey: string, companion: string, nowMs: number): Verdict | null {
    let anchor = this.anchors.get(anchorKey);
    if (anchor === undefined) anchor = this.createAnchor(anchorKey, nowMs);
    const priorTotal = anchor.total;
    let slot = anchor.companions.get(companion);
    let priorCount = 0;
    if (slot === undefined) {
      slot = this.createRow(anchor, companion);
    } else {
      priorCount = this.counts[slot]!;
    }
    anchor.total = priorTotal < MAX_COUNT ? priorTotal + 1 : MAX_COUNT; // saturates, as merges do
    anchor.lastUpdated = nowMs;
    this.counts[slot] = priorCount < MAX_COUNT ? priorCount + 1 : MAX_COUNT;
    this.updated[slot] = nowMs;
    this.touch(slot);

    if (priorTotal < this.minSeen) return null;
    let kind: VerdictKind;
    if (priorCount === 0) kind = 'new_companion';
    else if (this.rarityFraction > 0 && priorCount / priorTotal < this.rarityFraction) kind = 'rare_companion';
    else return null;
    if (this.suppressed(anchorKey, companion, nowMs)) return null;

    const count = priorCount + 1;
    const total = priorTotal + 1;
    const severity = kind === 'new_companion' ? this.newSeverity : this.rareSeverity;
    const message = kind === 'new_companion'
      ? `${companion} never seen before with ${anchorKey} (anchor seen ${priorTotal} times)`
      // The fraction that decided: the counts before this observation (with it, the count is ${count} of ${total}).
      : `${companion} rarely seen with ${anchorKey}: ${priorCount} of ${priorTotal} before this one ` +
        `(${((100 * priorCount) / priorTotal).toFixed(2)}% < ${(100 * this.rarityFraction).toFixed(2)}%)`;
    return { kind, severity, anchor: anchorKey, companion, count, total_seen: total, message };
  }

  /** The stored count of one row (0 when absent). */
  countOf(anchorKey: string, companion: string): number {
    const slot = this.anchors.get(anchorKey)?.companions.get(companion);
    return slot === undefined ? 0 : this.counts[slot]!;
  }

  /** The anchor's total (0 when absent). */
  totalOf(anchorKey: string): number {
    return this.anchors.get(anchorKey)?.total ?? 0;
  }

  /** Every row as plain entries; `total_seen` repeats the anchor's total on each of its rows. */
  serialize(): BehaviorProfileEntry[] {
    return [...this.entries()];
  }

  /** The same rows as `serialize()`, one at a time. */
  *entries(): IterableIterator<BehaviorProfileEntry> {
    for (const anchor of this.anchors.values()) {
      for (const [companion, slot] of anchor.companions) {
        yield {
          anchor_key: anchor.key,
          companion_key: companion,
          count: this.counts[slot]!,
          total_seen: anchor.total,
          last_updated: this.updated[slot]!,
        };
      }
    }
  }

  /**
   * Adds another profile's counts into this one. Each anchor's total is added once — the largest
   * `total_seen` among that anchor's entries — not once per companion row. Counts and totals
   * saturate at MAX_COUNT. Merged rows are dirty.
   */
  merge(entries: Iterable<BehaviorProfileEntry>): { rows: number; anchors: number } {
    const totals = new Map<string, number>();
    let rows = 0;
    for (const e of entries) {
      if (!(e.count > 0)) continue;
      let anchor = this.anchors.get(e.anchor_key);
      if (anchor === undefined) anchor = this.createAnchor(e.anchor_key, e.last_updated, false);
      let slot = anchor.companions.get(e.companion_key);
      if (slot === undefined) {
        slot = this.createRow(anchor, e.companion_key, false);
        this.updated[slot] = e.last_updated;
      }
      this.counts[slot] = Math.min(MAX_COUNT, this.counts[slot]! + e.count);
      if (e.last_updated > this.updated[slot]!) this.updated[slot] = e.last_updated;
      if (e.last_updated > anchor.lastUpdated) anchor.lastUpdated = e.last_updated;
      this.touch(slot);
      const t = totals.get(e.anchor_key);
      if (t === undefined || e.total_seen > t) totals.set(e.anchor_key, e.total_seen);
      rows++;
    }
    for (const [key, total] of totals) {
      const anchor = this.anchors.get(key);
      if (anchor !== undefined) anchor.total = Math.min(MAX_COUNT, anchor.total + Math.max(total, 0));
    }
    this.enforceCaps();
    return { rows, anchors: totals.size };
  }

  /**
   * Puts back one stored row (start-up load): absolute values, not dirty. The anchor's total is the
   * largest `total_seen` of its rows, because a flush writes only changed rows and so only the
   * most recently changed row is sure to carry the current total. Caps are enforced afterwards by
   * `finishLoad()`.
   */
  loadRow(anchorKey: string, companion: string, count: number, totalSeen: number, lastUpdated: number, journaled = false): void {
    let anchor = this.anchors.get(anchorKey);
    if (anchor === undefined) anchor = this.createAnchor(anchorKey, lastUpdated, false);
    let slot = anchor.companions.get(companion);
    if (slot === undefined) slot = this.createRow(anchor, companion, false);
    if (journaled) this.markUnfolded(slot);
    this.counts[slot] = count;
    this.updated[slot] = lastUpdated;
    if (totalSeen > anchor.total) anchor.total = totalSeen;
    if (lastUpdated > anchor.lastUpdated) anchor.lastUpdated = lastUpdated;
  }

  /** Removes one row as if it had never been loaded (a journaled deletion replayed at load). Not dirty. */
  unloadRow(anchorKey: string, companion: string): void {
    this.unfoldedRowDeletes.add(anchorKey + SEP + companion);
    const anchor = this.anchors.get(anchorKey);
    const slot = anchor?.companions.get(companion);
    if (anchor === undefined || slot === undefined) return;
    anchor.companions.delete(companion);
    this.freeSlot(slot);
    if (anchor.companions.size === 0) this.anchors.delete(anchorKey);
  }

  /** Removes one anchor as if it had never been loaded (a journaled deletion replayed at load). Not dirty. */
  unloadAnchor(anchorKey: string): void {
    this.unfoldedAnchorDeletes.add(anchorKey);
    const anchor = this.anchors.get(anchorKey);
    if (anchor === undefined) return;
    for (const slot of anchor.companions.values()) this.freeSlot(slot);
    this.anchors.delete(anchorKey);
  }

  /** Makes room for `rows` rows up front (start-up load), so the slot arrays are not regrown and copied. */
  reserve(rows: number): void {
    const want = Math.min(Math.max(rows, 0), this.maxRows) + 1024;
    if (want > this.capacity) this.grow(want);
  }

  /** After a load: evicts down to the caps (the evicted rows are deleted at the next flush). */
  finishLoad(): void {
    this.enforceCaps();
  }

  /** The rows and deletions to write. Nothing is forgotten until `commitDirty(batch)`. */
  collectDirty(): DirtyBatch {
    const n = this.dirty.size;
    const slots = new Int32Array(n);
    const versions = new Uint32Array(n);
    const upserts: BehaviorProfileEntry[] = new Array(n);
    let i = 0;
    for (const slot of this.dirty) {
      const anchor = this.slotAnchor[slot]!;
      slots[i] = slot;
      versions[i] = this.versions[slot]!;
      upserts[i] = {
        anchor_key: anchor.key,
        companion_key: this.slotCompanion[slot]!,
        count: this.counts[slot]!,
        total_seen: anchor.total,
        last_updated: this.updated[slot]!,
      };
      i++;
    }
    const deletedRows: [string, string][] = [];
    for (const k of this.pendingRowDeletes) {
      const cut = k.indexOf(SEP);
      deletedRows.push([k.slice(0, cut), k.slice(cut + 1)]);
    }
    return { deletedAnchors: [...this.pendingAnchorDeletes], deletedRows, upserts, slots, versions };
  }

  /** The writer committed `batch`: forget what it wrote, except rows changed again since. */
  commitDirty(batch: DirtyBatch): void {
    for (let i = 0; i < batch.slots.length; i++) {
      const slot = batch.slots[i]!;
      if (this.versions[slot] === batch.versions[i]) this.dirty.delete(slot);
      if (this.slotAnchor[slot] !== undefined) this.markUnfolded(slot);
    }
    for (const a of batch.deletedAnchors) {
      this.pendingAnchorDeletes.delete(a);
      this.unfoldedAnchorDeletes.add(a);
    }
    for (const [a, c] of batch.deletedRows) {
      const k = a + SEP + c;
      this.pendingRowDeletes.delete(k);
      this.unfoldedRowDeletes.add(k);
    }
  }

  /** Rows committed by the writer since its last fold (compaction), each once. */
  get unfoldedRows(): number {
    return this.unfoldedCount;
  }

  /**
   * The current value of every row committed since the last fold, and the deletions committed
   * since then — what a journaling writer must write into its base table to empty its journal.
   * Call it when nothing is dirty (right after a committed flush), so the values are exactly what
   * the journal holds.
   */
  collectFold(): DirtyBatch {
    const slots = new Int32Array(this.unfoldedCount);
    const upserts: BehaviorProfileEntry[] = new Array(this.unfoldedCount);
    let i = 0;
    for (let slot = 0; slot < this.nextSlot && i < slots.length; slot++) {
      if (this.unfolded[slot] !== 1) continue;
      const anchor = this.slotAnchor[slot]!;
      slots[i] = slot;
      upserts[i] = {
        anchor_key: anchor.key,
        companion_key: this.slotCompanion[slot]!,
        count: this.counts[slot]!,
        total_seen: anchor.total,
        last_updated: this.updated[slot]!,
      };
      i++;
    }
    const deletedRows: [string, string][] = [];
    for (const k of this.unfoldedRowDeletes) {
      const cut = k.indexOf(SEP);
      deletedRows.push([k.slice(0, cut), k.slice(cut + 1)]);
    }
    return { deletedAnchors: [...this.unfoldedAnchorDeletes], deletedRows, upserts: upserts.slice(0, i), slots: slots.subarray(0, i), versions: new Uint32Array(i) };
  }

  /** The writer folded `batch` into its base table. */
  commitFold(batch: DirtyBatch): void {
    for (const slot of batch.slots) {
      if (this.unfolded[slot] === 1) {
        this.unfolded[slot] = 0;
        this.unfoldedCount--;
      }
    }
    for (const a of batch.deletedAnchors) this.unfoldedAnchorDeletes.delete(a);
    for (const [a, c] of batch.deletedRows) this.unfoldedRowDeletes.delete(a + SEP + c);
  }

  /** Marks every row dirty (e.g. after the store was replaced and must be rewritten). */
  markAllDirty(): void {
    for (const anchor of this.anchors.values()) for (const slot of anchor.companions.values()) this.touch(slot);
  }

  // ---- internals ----

  private markUnfolded(slot: number): void {
    if (this.unfolded[slot] === 0) {
      this.unfolded[slot] = 1;
      this.unfoldedCount++;
    }
  }

  private touch(slot: number): void {
    this.versions[slot] = (this.versions[slot]! + 1) >>> 0;
    this.dirty.add(slot);
  }

  private createAnchor(key: string, nowMs: number, enforce = true): AnchorState {
    const anchor: AnchorState = { key, total: 0, lastUpdated: nowMs, companions: new CompanionIndex() };
    this.anchors.set(key, anchor);
    if (enforce && this.anchors.size > this.maxAnchors) this.evictAnchors(anchor);
    return anchor;
  }

  private createRow(anchor: AnchorState, companion: string, enforce = true): number {
    if (enforce && anchor.companions.size >= this.maxCompanionsPerAnchor) this.evictCompanion(anchor);
    const slot = this.allocSlot();
    companion = this.intern(companion);
    this.slotAnchor[slot] = anchor;
    this.slotCompanion[slot] = companion;
    this.counts[slot] = 0;
    this.updated[slot] = anchor.lastUpdated;
    anchor.companions.set(companion, slot);
    if (enforce && this.rows > this.maxRows) this.evictAnchors(anchor);
    // A row deleted earlier in this flush period and now back: its upsert replaces the deletion.
    if (this.pendingRowDeletes.size > 0) this.pendingRowDeletes.delete(anchor.key + SEP + companion);
    return slot;
  }

  /**
   * One string per distinct companion value: the same ja4t or ja4 is the companion of many anchors,
   * and a million rows would otherwise hold a million copies. The table is bounded; when full it
   * starts over (rows keep their strings, later ones share again).
   */
  private intern(value: string): string {
    const known = this.interned.get(value);
    if (known !== undefined) return known;
    if (this.interned.size >= MAX_INTERNED) this.interned.clear();
    this.interned.set(value, value);
    return value;
  }

  private allocSlot(): number {
    const reused = this.freeSlots.pop();
    if (reused !== undefined) {
      this.rows++;
      return reused;
    }
    if (this.nextSlot >= this.capacity) this.grow(this.capacity * 2);
    this.rows++;
    return this.nextSlot++;
  }

  private freeSlot(slot: number): void {
    this.slotAnchor[slot] = undefined;
    this.slotCompanion[slot] = undefined;
    this.counts[slot] = 0;
    this.dirty.delete(slot);
    if (this.unfolded[slot] === 1) {
      this.unfolded[slot] = 0;
      this.unfoldedCount--;
    }
    this.freeSlots.push(slot);
    this.rows--;
  }

  private grow(capacity: number): void {
    const counts = new Float64Array(capacity);
    counts.set(this.counts);
    const updated = new Float64Array(capacity);
    updated.set(this.updated);
    const versions = new Uint32Array(capacity);
    versions.set(this.versions);
    const unfolded = new Uint8Array(capacity);
    unfolded.set(this.unfolded);
    this.unfolded = unfolded;
    this.counts = counts;
    this.updated = updated;
    this.versions = versions;
    this.capacity = capacity;
  }

  /** Evicts the least recently updated companion of `anchor`. */
  private evictCompanion(anchor: AnchorState): void {
    let oldest: string | undefined;
    let oldestTime = Infinity;
    let newestSlot = -1;
    let newestTime = -Infinity;
    for (const [companion, slot] of anchor.companions) {
      const t = this.updated[slot]!;
      if (t < oldestTime) { oldestTime = t; oldest = companion; }
      if (t >= newestTime) { newestTime = t; newestSlot = slot; }
    }
    if (oldest === undefined) return;
    const slot = anchor.companions.get(oldest)!;
    anchor.companions.delete(oldest);
    this.freeSlot(slot);
    this.pendingRowDeletes.add(anchor.key + SEP + oldest);
    this.evictedCompanions++;
    // The deleted row may have been the one carrying the anchor's latest total; rewrite a survivor.
    if (newestSlot !== slot && newestSlot >= 0) this.touch(newestSlot);
  }

  /**
   * Evicts the least recently updated anchors until both the anchor cap and the row cap hold, with
   * a sixteenth of each cap to spare so the sort is amortised over many insertions. `keep` (the
   * anchor being updated) is never evicted.
   */
  private evictAnchors(keep?: AnchorState): void {
    const anchorTarget = this.maxAnchors - Math.max(0, Math.floor(this.maxAnchors / 16) - 1);
    const rowTarget = this.maxRows - Math.floor(this.maxRows / 16);
    if (this.anchors.size <= this.maxAnchors && this.rows <= this.maxRows) return;
    const candidates: AnchorState[] = [];
    for (const a of this.anchors.values()) if (a !== keep) candidates.push(a);
    candidates.sort((x, y) => x.lastUpdated - y.lastUpdated);
    let evicted = 0;
    for (const a of candidates) {
      if (this.anchors.size <= anchorTarget && this.rows <= rowTarget) break;
      for (const slot of a.companions.values()) this.freeSlot(slot);
      this.anchors.delete(a.key);
      this.pendingAnchorDeletes.add(a.key);
      evicted++;
    }
    this.evictedAnchors += evicted;
  }

  private enforceCaps(): void {
    for (const anchor of this.anchors.values()) {
      while (anchor.companions.size > this.maxCompanionsPerAnchor) this.evictCompanion(anchor);
    }
    if (this.anchors.size > this.maxAnchors || this.rows > this.maxRows) this.evictAnchors();
  }

  /** True when an alert for this (anchor, companion) was raised within the window; records it otherwise. */
  private suppressed(anchorKey: string, companion: string, nowMs: number): boolean {
    const key = anchorKey + SEP + companion;
    const last = this.lastAlert.get(key);
    // A time before the last alert (the clock stepped back, captures merged) ends the window too:
    // otherwise one alert stamped in the future would silence the pair until that time.
    if (last !== undefined && nowMs - last < this.alertWindowMs && nowMs >= last) return true;
    if (last !== undefined) this.lastAlert.delete(key); // re-insert at the end: the map stays in time order
    this.lastAlert.set(key, nowMs);
    if (this.lastAlert.size > this.maxSuppressions) {
      // Oldest first (insertion order); drop expired ones, then the oldest beyond the cap.
      for (const [k, t] of this.lastAlert) {
        if (this.lastAlert.size <= this.maxSuppressions && nowMs - t < this.alertWindowMs && nowMs >= t) break;
        this.lastAlert.delete(k);
      }
    }
    return false;
  }
}
