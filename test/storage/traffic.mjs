/**
 * Deterministic, traffic-like profile observations for the crash test: a skewed choice of 2,000
 * anchors (a few hot, many cold) and 8 companions each. Shared by the driver and the test so the
 * test can recompute exactly what a run fed in.
 */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const ANCHORS = 2000;
export const COMPANIONS = 8;

export function anchorKey(i) {
  return `ja4>ja4t:t13d1516h2_${i.toString(16).padStart(12, '0')}_02713d6af862`;
}

export function companionKey(i) {
  return `64240_2-4-8-1-3_1460_${i}`;
}

/** Calls fn(anchorKey, companionKey) for observations [from, to) of the run seeded by `seed`. */
export function makeTraffic(seed) {
  const r = rng(seed);
  return (fn) => {
    const a = Math.floor(r() * r() * ANCHORS);
    const c = Math.floor(r() * r() * r() * COMPANIONS);
    fn(anchorKey(a), companionKey(c));
  };
}
