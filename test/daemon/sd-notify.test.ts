/**
 * sd-notify against a real notify socket: a small python receiver binds a unix datagram socket the
 * way systemd does (and closes the barrier fds it is passed, as systemd does), and the real
 * systemd-notify sends to it. Skips where python3 or systemd-notify is missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { collect, requireBuild, SENSORD, startNode } from '../helpers/subprocess.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const canRun = have('python3') && have('systemd-notify');

const RECEIVER = `
import socket, sys, os, array
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("LISTENING", flush=True)
while True:
    msg, anc, flags, addr = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i"); fds.frombytes(data[: len(data) - (len(data) % 4)])
            for fd in fds: os.close(fd)
    for line in msg.decode().split("\\n"):
        if line and not line.startswith("BARRIER="): print(line, flush=True)
`;

/** A systemd-like notify socket in `dir`; `lines` fills with what is sent to it. */
async function startReceiver(dir: string): Promise<{ sock: string; receiver: ChildProcess; lines: string[] }> {
  const sock = join(dir, 'notify');
  const lines: string[] = [];
  const receiver = spawn('python3', ['-c', RECEIVER, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  receiver.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    lines.push(...parts);
  });
  for (let i = 0; i < 100 && !(lines.includes('LISTENING') && existsSync(sock)); i++) await new Promise((r) => setTimeout(r, 50));
  lines.length = 0;
  return { sock, receiver, lines };
}

const describeIf = canRun ? describe : describe.skip;
if (!canRun) console.warn('sd-notify tests skipped: python3 or systemd-notify not installed');

describe('sd-notify outside systemd', () => {
  const saved = { ...process.env };
  afterEach(() => { process.env = { ...saved }; });

  it('is a no-op without NOTIFY_SOCKET', async () => {
    delete process.env.NOTIFY_SOCKET;
    process.env.WATCHDOG_USEC = '30000000';
    const sd = await import('../../src/daemon/sd-notify.js');
    expect(sd.notifyEnabled()).toBe(false);
    expect(sd.watchdogIntervalMs()).toBeNull();
    await expect(sd.notifyReady('x')).resolves.toBe(false);
    await expect(sd.notifyWatchdog()).resolves.toBe(false);
  });

  it('feeds the watchdog at half of WATCHDOG_USEC, only for its own pid', async () => {
    const sd = await import('../../src/daemon/sd-notify.js');
    process.env.NOTIFY_SOCKET = '/nonexistent';
    process.env.WATCHDOG_USEC = '30000000';
    delete process.env.WATCHDOG_PID;
    expect(sd.watchdogIntervalMs()).toBe(15000);
    process.env.WATCHDOG_PID = String(process.pid);
    expect(sd.watchdogIntervalMs()).toBe(15000);
    process.env.WATCHDOG_PID = String(process.pid + 1);
    expect(sd.watchdogIntervalMs()).toBeNull();
    delete process.env.WATCHDOG_USEC;
    expect(sd.watchdogIntervalMs()).toBeNull();
  });
});

describeIf('sd-notify with a notify socket', () => {
  let dir: string;
  let receiver: ChildProcess;
  let lines: string[] = [];
  const saved = { ...process.env };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sdnotify-'));
    const r = await startReceiver(dir);
    receiver = r.receiver;
    lines = r.lines;
    process.env.NOTIFY_SOCKET = r.sock;
  });

  afterAll(() => {
    receiver?.kill();
    process.env = { ...saved };
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => { lines.length = 0; });

  it('sends READY with status, WATCHDOG and STOPPING, each acknowledged by the barrier', async () => {
    const sd = await import('../../src/daemon/sd-notify.js');
    await expect(sd.notifyReady('profiles loaded: 3\nanchors')).resolves.toBe(true);
    await expect(sd.notifyWatchdog()).resolves.toBe(true);
    await expect(sd.notifyStopping()).resolves.toBe(true);
    for (let i = 0; i < 40 && lines.length < 4; i++) await new Promise((r) => setTimeout(r, 50));
    expect(lines).toEqual(['READY=1', 'STATUS=profiles loaded: 3 anchors', 'WATCHDOG=1', 'STOPPING=1']);
  });

  it('never has two watchdog pings in flight', async () => {
    const sd = await import('../../src/daemon/sd-notify.js');
    const results = await Promise.all([sd.notifyWatchdog(), sd.notifyWatchdog(), sd.notifyWatchdog()]);
    expect(results).toEqual([true, false, false]);
    await expect(sd.notifyWatchdog()).resolves.toBe(true);
  });
});

describeIf('sensord under a notify socket', () => {
  let dir: string;
  let receiver: ChildProcess;
  let lines: string[];
  let sock: string;

  beforeAll(async () => {
    requireBuild();
    dir = mkdtempSync(join(tmpdir(), 'sdnotify-sensord-'));
    ({ sock, receiver, lines } = await startReceiver(dir));
  });

  afterAll(() => {
    receiver?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  const until = async (cond: () => boolean, ms: number) => {
    for (let t = 0; t < ms && !cond(); t += 50) await new Promise((r) => setTimeout(r, 50));
  };

  it('says READY once profiles are loaded, feeds the watchdog while it waits for packets, STOPPING at SIGTERM', async () => {
    lines.length = 0;
    const child = startNode(SENSORD, ['--read', '-', '--db', join(dir, 'a.db'), '--quiet'], { NOTIFY_SOCKET: sock, WATCHDOG_USEC: '400000' });
    const done = collect(child, 60_000);
    await until(() => lines.filter((l) => l === 'WATCHDOG=1').length >= 4, 20_000);
    const ready = lines.indexOf('READY=1');
    expect(ready).toBeGreaterThanOrEqual(0);
    expect(lines[ready + 1]).toMatch(/^STATUS=0 profile rows loaded; capturing from standard input$/);
    // Fed every 200 ms (half of WATCHDOG_USEC) while stdin is open and quiet: idle, not stuck.
    expect(lines.filter((l) => l === 'WATCHDOG=1').length).toBeGreaterThanOrEqual(4);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(0);
    expect(lines).toContain('STOPPING=1');
    expect(r.stderr).toMatch(/systemd watchdog armed/);
  });

  it('never feeds a watchdog meant for another process', async () => {
    lines.length = 0;
    const child = startNode(SENSORD, ['--read', '-', '--db', join(dir, 'b.db'), '--quiet'], { NOTIFY_SOCKET: sock, WATCHDOG_USEC: '400000', WATCHDOG_PID: '1' });
    const done = collect(child, 60_000);
    await until(() => lines.includes('READY=1'), 20_000);
    await new Promise((r) => setTimeout(r, 1000));
    child.kill('SIGTERM');
    await done;
    expect(lines).toContain('READY=1');
    expect(lines).not.toContain('WATCHDOG=1');
  });
});
