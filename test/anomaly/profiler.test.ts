import { BehaviorProfiler, MAX_COUNT, anchorKeyOf, parseAnchorKey, DEFAULT_PAIRS, type BehaviorProfileEntry } from '../../src/anomaly/profiler.js';

const JA4 = 't13d1516h2_8daaf6152771_02713d6af862';
const PAIR = { anchor: 'ja4', companion: 'ja4t' };
const KEY = anchorKeyOf(PAIR, JA4);

function sortEntries(e: BehaviorProfileEntry[]): BehaviorProfileEntry[] {
  return [...e].sort((a, b) => (a.anchor_key + '\0' + a.companion_key).localeCompare(b.anchor_key + '\0' + b.companion_key));
}

describe('anchor keys', () => {
  test('name the pair and the value', () => {
    expect(KEY).toBe('ja4>ja4t:t13d1516h2_8daaf6152771_02713d6af862');
    expect(parseAnchorKey(KEY)).toEqual({ pair: PAIR, value: JA4 });
    expect(parseAnchorKey(anchorKeyOf({ anchor: 'server', companion: 'ja4s' }, '10.0.0.1:443'))).toEqual({
      pair: { anchor: 'server', companion: 'ja4s' }, value: '10.0.0.1:443',
    });
    expect(parseAnchorKey('no-pair')).toBeNull();
  });

  test('default pairs cover the four required ones', () => {
    expect(DEFAULT_PAIRS).toEqual(expect.arrayContaining([
      { anchor: 'ja4', companion: 'ja4t' }, { anchor: 'ja4', companion: 'ja4h' },
      { anchor: 'client_ip', companion: 'ja4' }, { anchor: 'server', companion: 'ja4s' },
    ]));
  });

  test('totals are per pair', () => {
    const p = new BehaviorProfiler();
    p.observePair({ anchor: 'ja4', companion: 'ja4t' }, JA4, 'a', 1);
    p.observePair({ anchor: 'ja4', companion: 'ja4h' }, JA4, 'b', 1);
    p.observePair(1, JA4, 'c', 1);
    expect(p.totalOf('ja4>ja4t:' + JA4)).toBe(1);
    expect(p.totalOf('ja4>ja4h:' + JA4)).toBe(2);
  });
});

describe('verdicts', () => {
  test('crossing min_seen then a new companion raises exactly one alert', () => {
    const p = new BehaviorProfiler({ minSeen: 50, rarityFraction: 0.05 });
    const verdicts = [];
    for (let i = 0; i < 60; i++) verdicts.push(p.observe(KEY, 'usual', 1000 + i));
    expect(verdicts.filter(Boolean)).toEqual([]);
    const v = p.observe(KEY, 'stranger', 2000);
    expect(v).toMatchObject({ kind: 'new_companion', severity: 'high', anchor: KEY, companion: 'stranger', count: 1, total_seen: 61 });
    expect(v!.message).toContain('stranger');
    // Seen again within the window: rare now, but the same (anchor, companion) is suppressed.
    expect(p.observe(KEY, 'stranger', 2001)).toBeNull();
    expect(p.observe(KEY, 'usual', 2002)).toBeNull();
  });

  test('no alert before min_seen, even for new companions', () => {
    const p = new BehaviorProfiler({ minSeen: 5 });
    for (let i = 0; i < 5; i++) expect(p.observe(KEY, `c${i}`, i)).toBeNull();
    expect(p.observe(KEY, 'c9', 10)?.kind).toBe('new_companion');
  });

  test('a rare companion alerts, and again after the window', () => {
    const p = new BehaviorProfiler({ minSeen: 10, rarityFraction: 0.1, alertWindowMs: 1000 });
    p.observe(KEY, 'rare', 0);
    for (let i = 0; i < 30; i++) p.observe(KEY, 'usual', 1 + i);
    const v = p.observe(KEY, 'rare', 100);
    expect(v).toMatchObject({ kind: 'rare_companion', severity: 'medium', count: 2, total_seen: 32 });
    // The message gives the fraction that decided (before this observation), which is below the threshold.
    expect(v?.message).toBe(`rare rarely seen with ${KEY}: 1 of 31 before this one (3.23% < 10.00%)`);
    expect(p.observe(KEY, 'rare', 500)).toBeNull();
    expect(p.observe(KEY, 'rare', 1200)?.kind).toBe('rare_companion');
  });

  test('an alert stamped in the future does not silence its pair after time goes back', () => {
    const p = new BehaviorProfiler({ minSeen: 10, rarityFraction: 0.1, alertWindowMs: 1000 });
    p.observe(KEY, 'rare', 0);
    for (let i = 0; i < 30; i++) p.observe(KEY, 'usual', 1 + i);
    expect(p.observe(KEY, 'rare', 4e12)?.kind).toBe('rare_companion'); // a packet from 2096
    expect(p.observe(KEY, 'rare', 200)?.kind).toBe('rare_companion'); // back to the capture's own time
    expect(p.observe(KEY, 'rare', 300)).toBeNull(); // and the window holds from there
  });

  test('rarity 0 disables rare alerts', () => {
    const p = new BehaviorProfiler({ minSeen: 1, rarityFraction: 0 });
    p.observe(KEY, 'a', 0);
    for (let i = 0; i < 100; i++) p.observe(KEY, 'b', i);
    expect(p.observe(KEY, 'a', 200)).toBeNull();
  });
});

describe('serialize / merge', () => {
  test('empty profiler serializes to nothing; merging nothing changes nothing', () => {
    const p = new BehaviorProfiler();
    expect(p.serialize()).toEqual([]);
    expect(p.merge([])).toEqual({ rows: 0, anchors: 0 });
    expect(p.serialize()).toEqual([]);
    expect(p.dirtyCount).toBe(0);
  });

  test('round trip into an empty profiler gives the same entries', () => {
    const a = new BehaviorProfiler();
    for (let i = 0; i < 20; i++) a.observe(KEY, `c${i % 3}`, 100 + i);
    a.observe('client_ip>ja4:10.0.0.1', JA4, 500);
    const b = new BehaviorProfiler();
    b.merge(a.serialize());
    expect(sortEntries(b.serialize())).toEqual(sortEntries(a.serialize()));
  });

  test('total_seen repeats on every row; merge adds each anchor total once, not once per row', () => {
    const a = new BehaviorProfiler();
    for (let i = 0; i < 3; i++) a.observe(KEY, 'x', i); // x: 3
    for (let i = 0; i < 2; i++) a.observe(KEY, 'y', i); // y: 2
    a.observe(KEY, 'z', 9); // z: 1 → total 6
    const entries = a.serialize();
    expect(entries).toHaveLength(3);
    expect(entries.map((e) => e.total_seen)).toEqual([6, 6, 6]);

    const b = new BehaviorProfiler();
    for (let i = 0; i < 4; i++) b.observe(KEY, 'x', i); // total 4
    b.merge(entries);
    expect(b.totalOf(KEY)).toBe(10); // 4 + 6, not 4 + 18
    expect(b.countOf(KEY, 'x')).toBe(7);
    expect(b.countOf(KEY, 'y')).toBe(2);
    expect(b.countOf(KEY, 'z')).toBe(1);
    expect(b.serialize().every((e) => e.total_seen === 10)).toBe(true);
  });

  test('merge adds counts into existing rows and keeps the latest last_updated', () => {
    const a = new BehaviorProfiler();
    a.observe(KEY, 'x', 100);
    const b = new BehaviorProfiler();
    b.observe(KEY, 'x', 50);
    b.merge(a.serialize());
    expect(b.serialize()).toEqual([{ anchor_key: KEY, companion_key: 'x', count: 2, total_seen: 2, last_updated: 100 }]);
  });

  test('merged counts and totals saturate at MAX_COUNT, so the result is still a valid source', () => {
    const p = new BehaviorProfiler();
    const big = { anchor_key: KEY, companion_key: 'x', count: MAX_COUNT - 5, total_seen: MAX_COUNT - 5, last_updated: 1 };
    p.merge([big]);
    p.merge([{ ...big, count: 100, total_seen: 100, last_updated: 2 }]);
    expect(p.serialize()).toEqual([{ anchor_key: KEY, companion_key: 'x', count: MAX_COUNT, total_seen: MAX_COUNT, last_updated: 2 }]);
    // So do the daemon's own counts.
    p.observe(KEY, 'x', 3);
    p.observe(KEY, 'y', 4);
    expect(p.serialize()).toEqual([
      { anchor_key: KEY, companion_key: 'x', count: MAX_COUNT, total_seen: MAX_COUNT, last_updated: 3 },
      { anchor_key: KEY, companion_key: 'y', count: 1, total_seen: MAX_COUNT, last_updated: 4 },
    ]);
  });
});

describe('caps and eviction', () => {
  test('companions per anchor are capped; the least recently updated goes and is reported for deletion', () => {
    const p = new BehaviorProfiler({ maxCompanionsPerAnchor: 3 });
    p.observe(KEY, 'a', 1);
    p.observe(KEY, 'b', 2);
    p.observe(KEY, 'c', 3);
    p.observe(KEY, 'a', 4); // a refreshed; b is now the oldest
    p.commitDirty(p.collectDirty());
    p.observe(KEY, 'd', 5);
    expect(p.countOf(KEY, 'b')).toBe(0);
    expect(p.rowCount).toBe(3);
    const batch = p.collectDirty();
    expect(batch.deletedRows).toEqual([[KEY, 'b']]);
    // d is new; the newest survivor is rewritten too so the anchor's total stays on disk.
    expect(batch.upserts.map((u) => u.companion_key).sort()).toEqual(['a', 'd']);
    expect(p.totalOf(KEY)).toBe(5);
  });

  test('anchors are capped; a flood of random anchors keeps memory bounded and old anchors are deleted', () => {
    const p = new BehaviorProfiler({ maxAnchors: 100 });
    p.observe('ja4>ja4t:old', 'x', 0);
    p.commitDirty(p.collectDirty());
    for (let i = 0; i < 10_000; i++) p.observe(`ja4>ja4t:flood${i}`, 'x', 1 + i);
    expect(p.anchorCount).toBeLessThanOrEqual(100);
    expect(p.rowCount).toBe(p.anchorCount);
    expect(p.totalOf('ja4>ja4t:old')).toBe(0);
    expect(p.collectDirty().deletedAnchors).toContain('ja4>ja4t:old');
    expect(p.evictions.anchors).toBeGreaterThan(9_000);
  });
});

describe('dirty tracking', () => {
  test('only changed rows are handed out, and only after commit are they forgotten', () => {
    const p = new BehaviorProfiler();
    p.observe(KEY, 'a', 1);
    p.observe(KEY, 'b', 2);
    const first = p.collectDirty();
    expect(first.upserts).toHaveLength(2);
    expect(p.collectDirty().upserts).toHaveLength(2); // not committed: still dirty
    p.commitDirty(first);
    expect(p.collectDirty().upserts).toHaveLength(0);
    p.observe(KEY, 'a', 3);
    const second = p.collectDirty();
    expect(second.upserts).toEqual([{ anchor_key: KEY, companion_key: 'a', count: 2, total_seen: 3, last_updated: 3 }]);
  });

  test('a row changed after collection stays dirty after the commit of the older batch', () => {
    const p = new BehaviorProfiler();
    p.observe(KEY, 'a', 1);
    const batch = p.collectDirty();
    p.observe(KEY, 'a', 2);
    p.commitDirty(batch);
    expect(p.collectDirty().upserts[0]).toMatchObject({ count: 2 });
  });

  test('loaded rows are not dirty', () => {
    const p = new BehaviorProfiler();
    p.loadRow(KEY, 'a', 5, 9, 100);
    p.loadRow(KEY, 'b', 4, 7, 90);
    p.finishLoad();
    expect(p.dirtyCount).toBe(0);
    expect(p.totalOf(KEY)).toBe(9);
  });
});

test('the total row cap evicts whole least-recently-updated anchors', () => {
  const p = new BehaviorProfiler({ maxRows: 100, maxCompanionsPerAnchor: 10 });
  for (let a = 0; a < 50; a++) for (let c = 0; c < 10; c++) p.observe(`ja4>ja4t:a${a}`, `c${c}`, a * 10 + c);
  expect(p.rowCount).toBeLessThanOrEqual(100);
  expect(p.totalOf('ja4>ja4t:a49')).toBe(10); // the newest survives
  expect(p.totalOf('ja4>ja4t:a0')).toBe(0);
  const batch = p.collectDirty();
  expect(batch.deletedAnchors).toContain('ja4>ja4t:a0');
  expect(batch.upserts.length).toBe(p.rowCount);
});
