/** Shared bits for the storage tests: temp dirs, a log collector, traffic-like observations. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Logger, LogLevel } from '../../src/storage/db.js';

export function tempDir(prefix = 'sensor-storage-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function collectingLogger(): { log: Logger; lines: { level: LogLevel; message: string }[] } {
  const lines: { level: LogLevel; message: string }[] = [];
  return { lines, log: (level, message) => { lines.push({ level, message }); } };
}

/** A deterministic pseudo-random generator (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function hex(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(r() * 16).toString(16);
  return s;
}
