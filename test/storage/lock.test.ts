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
    expect(fs.readFileSync(lock.path, 'utf8').trim().split(' ')[0]).toBe(String(process.pid));
    lock.release();
    expect(fs.existsSync(lock.path)).toBe(false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a lock whose pid now belongs to another process (reboot, pid reuse) is stale; a live holder records who it is', () => {
  if (!fs.existsSync('/proc/self/stat')) return; // the identity comes from /proc; elsewhere the pid alone is checked
  const dir = tempDir();
  try {
    const dbPath = path.join(dir, 'sensor.db');
    // Our parent is alive, but the lock says it was started at another boot.
    fs.writeFileSync(`${dbPath}.lock`, `${process.ppid} 00000000-0000-0000-0000-000000000000/12345\n`);
    expect(writerLockHolder(dbPath)).toBeNull();
    fs.writeFileSync(`${dbPath}.lock`, `${process.pid} x\n`); // ourselves: never our own holder
    expect(writerLockHolder(dbPath)).toBeNull();
    const lock = acquireWriterLock(dbPath);
    expect(fs.readFileSync(lock.path, 'utf8')).toMatch(new RegExp(`^${process.pid} [0-9a-f-]{36}/\\d+\\n$`));
    expect(writerLockHolder(dbPath)).toBeNull(); // held by this process, so not "another" holder
    lock.release();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
