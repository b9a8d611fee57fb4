/**
 * Temporary files that must not outlive the process however it ends: a private copy of a
 * database, the half-written file of an atomic export or backup. Normally their owner removes or
 * renames them; this also removes them when the process exits early (process.exit after a closed
 * pipe, `sensorctl export-profiles | head`) or is stopped by SIGINT, SIGTERM or SIGHUP (Ctrl-C, a
 * dropped SSH session). A private database copy is as large as the database, on a /tmp that may
 * be memory.
 */
import fs from 'node:fs';

const pending = new Set<string>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function removeAll(): void {
  for (const p of pending) {
    try { fs.rmSync(p, { recursive: true, force: true }); } catch { /* best effort at exit */ }
  }
  pending.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  removeAll();
  uninstall();
  // With our handler gone, the signal's default action ends the process as it would have.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

function install(): void {
  process.on('exit', removeAll);
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  process.off('exit', removeAll);
  for (const s of SIGNALS) process.off(s, onSignal);
}

/**
 * Registers a temporary file or directory; the returned function forgets it (call it once the
 * path has been removed or renamed into place). Signal handlers are installed only while
 * something is registered, so they do not change how the process ends otherwise.
 */
export function trackTemporary(file: string): () => void {
  if (pending.size === 0) install();
  pending.add(file);
  return () => {
    if (pending.delete(file) && pending.size === 0) uninstall();
  };
}
