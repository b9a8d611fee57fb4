/**
 * sd-notify against a real notify socket: a small python receiver binds a unix datagram socket the
 * way systemd does (and closes the barrier fds it is passed, as systemd does), and the real
 * systemd-notify sends to it. Skips where python3 or systemd-notify is missing.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
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
    const sock = join(dir, 'notify');
    receiver = spawn('python3', ['-c', RECEIVER, sock], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    receiver.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const parts = buf.split('\n');
      buf = parts.pop()!;
      lines.push(...parts);
    });
    for (let i = 0; i < 100 && !(lines.includes('LISTENING') && existsSync(sock)); i++) await new Promise((r) => setTimeout(r, 50));
    process.env.NOTIFY_SOCKET = sock;
  });

  afterAll(() => {
    receiver?.kill();
    process.env = { ...saved };
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => { lines = []; });

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
