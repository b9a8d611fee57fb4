/** Runs the built CLI and daemon as real subprocesses (build first: `npm run build`). */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export const ROOT = process.cwd();
export const SENSORD = path.join(ROOT, 'dist/daemon/sensord.js');
export const SENSORCTL = path.join(ROOT, 'dist/cli/sensorctl.js');
export const DEMO_PCAP = path.join(ROOT, 'test/fixtures/demo.pcap');
export const SHARED_PCAPS = path.join(ROOT, '../shared/conformance/foxio/pcap');

export function requireBuild(): void {
  if (!existsSync(SENSORD) || !existsSync(SENSORCTL)) {
    throw new Error('dist/ is missing: run `npm run build` (or `make test`, which builds) before the tests');
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function collect(child: ChildProcess, timeoutMs = 60_000): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`subprocess timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

/** Runs `node SCRIPT ARGS`, optionally with bytes on stdin, and waits for it to exit. */
export function runNode(script: string, args: string[], opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<RunResult> {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: ROOT,
    env: { ...process.env, SENSOR_CONFIG: '', ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  else child.stdin?.end();
  return collect(child, opts.timeoutMs);
}

export function startNode(script: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  return spawn(process.execPath, [script, ...args], { cwd: ROOT, env: { ...process.env, SENSOR_CONFIG: '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function jsonLines(text: string): Record<string, unknown>[] {
  return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
