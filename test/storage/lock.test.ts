import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { acquireWriterLock, writerLockHolder, writerLockPath } from '../../src/storage/lock.js';
import { tempDir } from './helpers.js';

test('one writer at a time; a dead holder\'s lock is taken over', () => {
  const dir = tempDir();
  try {
    const dbPath = path.join(dir, 'sensor.db');
    // A lock held by a live other process is refused, naming it.
    fs.writeFileSync(`${dbPath}.lock`, `${process.ppid}\n`);
    expect(writerLockHolder(dbPath)).toBe(process.ppid);
    expect(() => acquireWriterLock(dbPath, 'sensorctl seed')).toThrow(/in use by another writer, pid \d+.*stop it before sensorctl seed writes/);
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

test('the lock belongs to the file: a symlink finds it, a hard-linked database is refused', () => {
  const dir = tempDir();
  try {
    const dbPath = path.join(dir, 'sensor.db');
    fs.writeFileSync(dbPath, '');
    fs.mkdirSync(path.join(dir, 'elsewhere'));
    const link = path.join(dir, 'elsewhere', 'link.db');
    fs.symlinkSync(dbPath, link);
    expect(writerLockPath(link)).toBe(`${fs.realpathSync(dbPath)}.lock`);
    const lock = acquireWriterLock(dbPath);
    fs.writeFileSync(lock.path, `${process.ppid}\n`); // as if another live process held it
    expect(writerLockHolder(link)).toBe(process.ppid);
    expect(() => acquireWriterLock(link)).toThrow(/in use by another writer/);
    fs.rmSync(lock.path);
    // A database not created yet: the lock goes beside its name in the real directory.
    fs.symlinkSync(dir, path.join(dir, 'dirlink'));
    expect(writerLockPath(path.join(dir, 'dirlink', 'new.db'))).toBe(path.join(fs.realpathSync(dir), 'new.db.lock'));
    fs.linkSync(dbPath, path.join(dir, 'hard.db'));
    expect(() => acquireWriterLock(dbPath)).toThrow(/sensor\.db has 2 hard links; .*remove the other links/);
    expect(fs.existsSync(`${dbPath}.lock`)).toBe(false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
