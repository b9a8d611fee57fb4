/**
 * Live capture: `sensord --interface lo` spawns tcpdump, and records the JA4 of a TLS handshake this
 * test makes with Node's tls module over loopback. Needs tcpdump and the right to capture.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import Database from 'better-sqlite3';
import { SENSORD, collect, requireBuild, startNode, waitFor } from '../helpers/subprocess.js';

function captureUnavailable(): string | null {
  const which = spawnSync('sh', ['-c', 'command -v tcpdump']);
  if (which.status !== 0) return 'tcpdump is not installed (scripts/install-test-deps.sh installs it)';
  // Capturing needs CAP_NET_RAW; a short capture on lo tells us whether we have it.
  const probe = spawnSync('tcpdump', ['-i', 'lo', '-c', '1', '-w', '/dev/null', 'not', 'ip'], { timeout: 1500 });
  const err = String(probe.stderr);
  if (/permission|Operation not permitted|You don't have permission/i.test(err)) return `tcpdump cannot capture here (${err.trim().split('\n').pop()})`;
  return null;
}

const why = captureUnavailable();
const maybe = why === null ? describe : describe.skip;
if (why !== null) {
  // eslint-disable-next-line no-console
  console.warn(`live capture test skipped: ${why}`);
}

maybe('sensord --interface lo', () => {
  let dir: string;
  beforeAll(() => requireBuild());
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'sensord-live-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('records the JA4 of a TLS handshake made over loopback', async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=live.test', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    const server = tls.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) }, (s) => s.end('hi'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const db = path.join(dir, 'sensor.db');
    const child = startNode(SENSORD, ['--interface', 'lo', '--filter', `tcp port ${port}`, '--db', db, '--flush-interval', '0.3', '-q']);
    const done = collect(child, 60_000);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => { stderr += String(d); });
    await waitFor(() => /capture started/.test(stderr), 15_000, 'sensord to start capturing');
    // tcpdump needs a moment after start-up before packets are seen.
    await new Promise((r) => setTimeout(r, 1500));
    await new Promise<void>((resolve, reject) => {
      // localAddress is passed through to net.connect (a distinct client address for this test).
      const options = { host: '127.0.0.1', port, localAddress: '127.0.0.7', servername: 'live.test', rejectUnauthorized: false } as tls.ConnectionOptions;
      const s = tls.connect(options, () => s.end());
      s.resume(); // reading the server's reply lets the socket close
      s.on('close', () => resolve());
      s.on('error', reject);
    });
    const anchor = 'client_ip>ja4:127.0.0.7';
    await waitFor(() => {
      try {
        const conn = new Database(db, { readonly: true });
        try {
          return conn.prepare('SELECT 1 FROM behavior_profiles_current WHERE anchor_key = ?').get(anchor) !== undefined;
        } finally { conn.close(); }
      } catch { return false; }
    }, 20_000, 'the handshake to be profiled');
    child.kill('SIGTERM');
    const r = await done;
    server.close();
    expect(r.code).toBe(0);
    const conn = new Database(db, { readonly: true });
    const rows = conn.prepare('SELECT companion_key, count FROM behavior_profiles_current WHERE anchor_key = ?').all(anchor) as { companion_key: string; count: number }[];
    conn.close();
    expect(rows).toHaveLength(1);
    // Node's TLS 1.3 ClientHello over TCP, with SNI.
    expect(rows[0].companion_key).toMatch(/^t13d\d{4}[0-9a-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$/);
    expect(rows[0].count).toBe(1);
  });
});
