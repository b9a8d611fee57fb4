/**
 * sensorctl in shell pipelines: `-` reads standard input, and a reader that stops early (`| head`)
 * ends the output quietly, exit 0, as it does for cat or grep.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { CLI, DEMO_PCAP, cli, makeSensorDb, tempDir, type Row } from './helpers.js';

let dir: string;
beforeEach(() => { dir = tempDir(); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs sensorctl, reads its first chunk of output, then closes the pipe as `head -c` would. */
function readFirstChunkThenClose(args: string[]): Promise<{ code: number | null; first: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, SENSOR_DB: '', SENSOR_CONFIG: '' } });
    let first = '';
    let stderr = '';
    p.stderr.on('data', (d) => { stderr += d; });
    p.stdout.once('data', (d) => { first = String(d); p.stdout.destroy(); });
    p.on('close', (code) => resolve({ code, first, stderr }));
  });
}

test('fingerprint - reads the capture from standard input, as the help says', () => {
  const fromFile = cli(['fingerprint', DEMO_PCAP]);
  const fromStdin = cli(['fingerprint', '-'], { input: fs.readFileSync(DEMO_PCAP) });
  expect(fromStdin.stderr).toBe('');
  expect(fromStdin.code).toBe(0);
  expect(fromStdin.stdout.split('\n').length).toBeGreaterThan(300);
  expect(fromStdin.stdout).toBe(fromFile.stdout);
});

test('a reader that stops early ends export-profiles, profiles and fingerprint quietly, exit 0', async () => {
  const rows: Row[] = [];
  for (let a = 0; a < 2000; a++) for (let c = 0; c < 5; c++) rows.push([`ja4>ja4t:t13d1516h2_${String(a).padStart(12, '0')}_000000000000`, `64240_2-4-8-1-3_1460_${c}`, 2, 10, 1_700_000_000_000]);
  const db = makeSensorDb(path.join(dir, 'big.db'), rows, 'pipes');
  for (const args of [['export-profiles', '--db', db], ['profiles', '--db', db, '--top', '100000'], ['fingerprint', DEMO_PCAP]]) {
    const r = await readFirstChunkThenClose(args);
    expect({ args, stderr: r.stderr, code: r.code }).toEqual({ args, stderr: '', code: 0 });
    expect(r.first.length).toBeGreaterThan(0);
  }
});
