/**
 * The capture path of the appliance: sensord runs scripts/image-capture-client as its "tcpdump";
 * the client asks a unix socket (sensor-capture.socket on the Pi) for a capture, and
 * scripts/image-capture-server, started per connection with the socket as stdin/stdout, validates
 * the request and execs the real tcpdump. Here a small unix server plays systemd's Accept=yes part.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CLIENT = join(process.cwd(), 'scripts/image-capture-client');
const SERVER = join(process.cwd(), 'scripts/image-capture-server');
const tcpdump = spawnSync('sh', ['-c', 'command -v tcpdump'], { encoding: 'utf8' }).stdout.trim();
const isRoot = process.getuid?.() === 0;
const liveIt = tcpdump && isRoot ? it : it.skip;
if (!(tcpdump && isRoot)) console.warn('live capture through the socket skipped: needs root and tcpdump');

let dir: string;
let sockPath: string;
let server: net.Server;
const helpers: { child: ChildProcess; stderr: string; code: Promise<number | null> }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'capture-'));
  sockPath = join(dir, 'capture.sock');
  server = net.createServer((conn) => {
    // What systemd does for Accept=yes with StandardInput/StandardOutput=socket.
    const child = spawn(SERVER, [], { stdio: [conn, conn, 'pipe'], env: { ...process.env, SENSOR_TCPDUMP_BIN: tcpdump || '/usr/bin/tcpdump' } });
    const h = { child, stderr: '', code: new Promise<number | null>((r) => child.on('exit', (c) => r(c))) };
    child.stderr!.on('data', (d: Buffer) => { h.stderr += d.toString(); });
    child.on('exit', () => conn.destroy());
    helpers.push(h);
  });
  await new Promise<void>((r) => server.listen(sockPath, r));
});

afterAll(async () => {
  for (const h of helpers) h.child.kill('SIGKILL');
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

function runClient(args: string[], env: Record<string, string> = {}) {
  const child = spawn(CLIENT, args, { env: { ...process.env, SENSOR_CAPTURE_SOCKET: sockPath, ...env } });
  let out = Buffer.alloc(0);
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out = Buffer.concat([out, d]); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const done = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  return { child, done, out: () => out, err: () => err };
}

describe('capture helper', () => {
  liveIt('streams pcap from tcpdump on lo with the filter, and stops tcpdump when the reader goes', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const sink = net.createServer((c) => c.end('hello\n'));
    await new Promise<void>((r) => sink.listen(port, '127.0.0.1', r));
    const before = helpers.length;
    const poke = () => new Promise<void>((r) => {
      const s = net.connect(port, '127.0.0.1', () => s.end());
      s.resume();
      s.on('close', () => r());
      s.on('error', () => r());
    });
    const c = runClient(['-i', 'lo', '-U', '-w', '-', 'tcp', 'port', String(port)]);
    const deadline = Date.now() + 20000;
    // Keep making connections until tcpdump has started and sent the header plus packets.
    while (c.out().length < 24 + 3 * 16 && Date.now() < deadline) {
      await poke();
      await new Promise((r) => setTimeout(r, 100));
    }
    const magic = c.out().subarray(0, 4).toString('hex');
    expect(['d4c3b2a1', 'a1b2c3d4', '4d3cb2a1', 'a1b23c4d']).toContain(magic);
    expect(c.out().length).toBeGreaterThan(24 + 3 * 16);
    const h = helpers[before];
    expect(h.stderr).toContain(`capture: tcpdump on lo with filter 'tcp port ${port}'`);
    c.child.kill('SIGTERM');
    expect(await c.done).toBe(0);
    // tcpdump notices the closed socket on its next write; traffic on lo makes it write.
    let exited = false;
    const settled = await Promise.race([h.code.then(() => (exited = true)), (async () => {
      for (let i = 0; i < 50 && !exited; i++) {
        await poke();
        await new Promise((r) => setTimeout(r, 100));
      }
      return false;
    })()]);
    await new Promise<void>((r) => sink.close(() => r()));
    if (!settled) h.child.kill('SIGKILL');
    expect(settled).toBe(true);
  });

  it('refuses an interface name that is not one, without starting tcpdump', async () => {
    const before = helpers.length;
    const c = runClient(['-i', 'eth0;reboot', '-U', '-w', '-']);
    expect(await c.done).toBe(1);
    expect(c.err()).toMatch(/ended without data/);
    expect(await helpers[before].code).toBe(2);
    expect(helpers[before].stderr).toMatch(/refusing interface name 'eth0;reboot'/);
  });

  it('refuses options it does not pass on, and says when the socket is missing', async () => {
    const bad = runClient(['-i', 'lo', '-w', '/tmp/x.pcap']);
    expect(await bad.done).toBe(2);
    expect(bad.err()).toMatch(/only -w -/);
    const missing = runClient(['-i', 'lo', '-U', '-w', '-'], { SENSOR_CAPTURE_SOCKET: join(dir, 'nope.sock') });
    expect(await missing.done).toBe(1);
    expect(missing.err()).toMatch(/cannot reach .*nope\.sock: ENOENT \(is sensor-capture\.socket running\?\)/);
  });
});
