import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { acquireWriterLock, writerLockHolder } from '../../src/storage/lock.js';
import { tempDir } from './helpers.js';

test('one writer at a time; a dead holder\'s lock is taken over', () => {
  const dir = tempDir();
  try {
    const dbPath = path.join(dir, 'sensor.db');
    // A lock held by a live other process is refused, naming it.
    fs.writeFileSync(`${dbPath}.lock`, `${process.ppid}\n`);
    expect(writerLockHolder(dbPath)).toBe(process.ppid);
    expect(() => acquireWriterLock(dbPath, 'sensorctl seed')).toThrow(/in use by another writer \(pid \d+.*stop it before sensorctl seed writes/);
    // A lock left by a process that is gone is stale.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    fs.writeFileSync(`${dbPath}.lock`, `${dead}\n`);
    expect(writerLockHolder(dbPath)).toBeNull();
    const lock = acquireWriterLock(dbPath);
    expect(fs.readFileSync(lock.path, 'utf8').trim()).toBe(String(process.pid));
    lock.release();
    expect(fs.existsSync(lock.path)).toBe(false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
