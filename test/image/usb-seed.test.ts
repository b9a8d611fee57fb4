/**
 * scripts/usb-seed against real block devices: stick images attached as loop devices (with their
 * partitions), mounted by the script itself; results published to a real mosquitto on loopback;
 * the real sensorctl (dist/) seeds when it has the command. Needs root and losetup; skips otherwise.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = join(process.cwd(), 'scripts/usb-seed');
const SENSORCTL = join(process.cwd(), 'dist/cli/sensorctl.js');
const SENSORD = join(process.cwd(), 'dist/daemon/sensord.js');
const CAPTURE = join(process.cwd(), 'test/fixtures/demo.pcap');
const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const stickTools = ['losetup', 'sfdisk', 'partx', 'mke2fs'].filter((t) => !have(t));
const canLoop = process.getuid?.() === 0 && stickTools.length === 0 && spawnSync('losetup', ['-f']).status === 0;
const describeIf = canLoop ? describe : describe.skip;
if (!canLoop) {
  console.warn(stickTools.length > 0
    ? `usb-seed tests skipped: ${stickTools.join(', ')} missing (bash scripts/install-test-deps.sh installs them)`
    : 'usb-seed tests skipped: need root and free loop devices');
}
// The kernel must know the filesystem too: some CI kernels (this machine's among them) have ext4 only.
const kernelFs = existsSync('/proc/filesystems') ? readFileSync('/proc/filesystems', 'utf8') : '';
const hasVfat = have('mkfs.vfat') && have('mcopy') && /\tvfat$/m.test(kernelFs);
if (canLoop && !hasVfat) console.warn('usb-seed: the FAT-stick case is skipped: this kernel cannot mount vfat (the image boot test covers it)');
const hasMqtt = have('mosquitto') || existsSync('/usr/sbin/mosquitto');
const hasSeed = existsSync(SENSORCTL) && spawnSync('node', [SENSORCTL, 'seed', '--help']).status === 0
  && spawnSync('node', [SENSORCTL, 'backup', '--help']).status === 0;
if (canLoop && !hasSeed) console.warn('usb-seed: seeding cases skipped: dist/cli/sensorctl.js has no seed/backup command yet (npm run build?)');

function sh(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

describeIf('usb-seed', () => {
  let dir: string;
  const loops: string[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'usb-seed-'));
    writeFileSync(join(dir, 'defaults.yaml'), '# every setting at its default\n');
  });
  afterAll(() => {
    for (const l of loops) {
      spawnSync('partx', ['-d', l]);
      spawnSync('losetup', ['-d', l]);
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** A stick image with the given partitions (MiB each), attached with partition scanning. */
  function stick(name: string, partitionsMiB: number[]): { dev: string; parts: string[] } {
    const img = join(dir, `${name}.img`);
    const total = 1 + partitionsMiB.reduce((a, b) => a + b, 0) + 1;
    writeFileSync(img, '');
    sh('truncate', ['-s', `${total}M`, img]);
    if (partitionsMiB.length) {
      const table = partitionsMiB.map((s) => `size=${s}MiB, type=83`).join('\n');
      const r = spawnSync('sfdisk', ['--quiet', img], { input: `label: dos\n${table}\n`, encoding: 'utf8' });
      if (r.status !== 0) throw new Error(r.stderr);
    }
    const dev = sh('losetup', ['-f', '--show', '-P', img]);
    loops.push(dev);
    spawnSync('udevadm', ['settle', '--timeout=5']);
    // Some kernels (this CI's container among them) leave loop partitions to user space.
    if (partitionsMiB.length) spawnSync('partx', ['-a', dev]);
    const base = dev.replace('/dev/', '');
    const parts = readdirSync(`/sys/class/block/${base}`).filter((e) => e.startsWith(`${base}p`)).sort().map((p) => `/dev/${p}`);
    return { dev, parts };
  }

  /** Fills an ext4 filesystem from a directory tree (mke2fs -d, no mount needed). */
  function ext4From(part: string, tree: string) {
    sh('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', tree, part]);
  }

  function runSeed(dev: string, env: Record<string, string> = {}) {
    const runtime = join(dir, `run-${Math.random().toString(36).slice(2)}`);
    mkdirSync(runtime, { mode: 0o700 });
    const dbDir = join(dir, `db-${Math.random().toString(36).slice(2)}`);
    mkdirSync(dbDir);
    const r = spawnSync(SCRIPT, [dev], {
      encoding: 'utf8',
      timeout: 120_000,
      env: {
        ...process.env, RUNTIME_DIRECTORY: runtime, SENSOR_DB: join(dbDir, 'sensor.db'), SENSOR_USER: '',
        SENSOR_CONFIG: join(dir, 'defaults.yaml'), SENSORCTL: `node ${SENSORCTL}`, SENSOR_LEDS: join(dir, 'leds'), ...env,
      },
    });
    const mounts = readFileSync('/proc/mounts', 'utf8');
    return { ...r, out: r.stdout + r.stderr, runtime, dbDir, stillMounted: mounts.includes(runtime) };
  }

  it('says so when the stick has no backup, and unmounts it', () => {
    const tree = join(dir, 'tree-empty');
    mkdirSync(join(tree, 'photos'), { recursive: true });
    const s = stick('empty', [8]);
    ext4From(s.parts[0], tree);
    const r = runSeed(s.dev);
    expect(r.out).toMatch(/mounted \/dev\/loop\d+p1 \(ext4\) read-only/);
    expect(r.out).toMatch(/nothing: no sensor-backup\/\*\.db on \/dev\/loop\d+p1: nothing to seed/);
    expect(r.status).toBe(0);
    expect(r.stillMounted).toBe(false);
    expect(readdirSync(r.dbDir)).toEqual([]);
  });

  it('refuses a stick with two partitions', () => {
    const s = stick('two', [4, 4]);
    const r = runSeed(s.dev);
    expect(r.out).toMatch(/failed: \/dev\/loop\d+ has 2 partitions \(loop\d+p1, loop\d+p2\); use a stick with a single partition/);
    expect(r.status).toBe(1);
  });

  it('refuses a filesystem it cannot read, and a stick without any', () => {
    const swap = stick('swap', [8]);
    sh('mkswap', [swap.parts[0]]);
    const r = runSeed(swap.dev);
    expect(r.out).toMatch(/failed: cannot read the swap filesystem on \/dev\/loop\d+p1 \(use vfat, exfat or ext4\): sensor data untouched/);
    expect(r.status).toBe(1);
    const blank = stick('blank', []);
    const r2 = runSeed(blank.dev);
    expect(r2.out).toMatch(/failed: no filesystem found on \/dev\/loop\d+: sensor data untouched/);
  });

  it('never follows a symlink planted in sensor-backup/, and never writes to the stick', () => {
    const tree = join(dir, 'tree-evil');
    mkdirSync(join(tree, 'sensor-backup'), { recursive: true });
    symlinkSync('/etc/passwd', join(tree, 'sensor-backup', 'evil.db'));
    mkdirSync(join(tree, 'sensor-export'));
    const s = stick('evil', [8]);
    ext4From(s.parts[0], tree);
    const before = sh('sha256sum', [s.parts[0]]);
    const r = runSeed(s.dev, { SENSOR_CONFIG: writeConfig('export.yaml', 'usb_export: false\n') });
    expect(r.out).toMatch(/ignoring evil\.db: not a regular file/);
    expect(r.out).toMatch(/usb_export is not enabled in the config: not writing to the stick/);
    expect(r.out).toMatch(/nothing to seed/);
    expect(sh('sha256sum', [s.parts[0]])).toBe(before);
  });

  function writeConfig(name: string, text: string) {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  }

  (hasMqtt ? it : it.skip)('publishes the result to <topic_prefix>/events on the configured broker', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const conf = writeConfig('mosquitto.conf', `listener ${port} 127.0.0.1\nallow_anonymous true\n`);
    const broker: ChildProcess = spawn(have('mosquitto') ? 'mosquitto' : '/usr/sbin/mosquitto', ['-c', conf], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 500));
      const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'site/a/events', '-C', '1', '-W', '60']);
      let got = '';
      sub.stdout.on('data', (d: Buffer) => { got += d.toString(); });
      const subDone = new Promise((r) => sub.on('exit', r));
      await new Promise((r) => setTimeout(r, 500));
      const s = stick('mqtt', [4]);
      const r = await new Promise<{ out: string; code: number | null }>((resolve) => {
        const cfg = writeConfig('mqtt.yaml', `mqtt:\n  url: mqtt://127.0.0.1:${port}\n  topic_prefix: site/a/\n`);
        const child = spawn(SCRIPT, [s.dev], { env: { ...process.env, RUNTIME_DIRECTORY: mkdtempSync(join(dir, 'run-')), SENSOR_DB: join(dir, 'mq.db'), SENSOR_USER: '', SENSOR_CONFIG: cfg } });
        let out = '';
        child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
        child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
        child.on('exit', (code) => resolve({ out, code }));
      });
      await subDone;
      expect(r.out).toMatch(/published the result to site\/a\/events/);
      const event = JSON.parse(got.trim());
      expect(event).toMatchObject({ event: 'usb-seed', device: s.dev, result: 'failed' });
      expect(event.message).toMatch(/no filesystem found/);
    } finally {
      broker.kill();
    }
  });

  it('blinks an LED it finds, then gives it back its trigger', () => {
    const led = join(dir, 'leds', 'ACT');
    mkdirSync(led, { recursive: true });
    writeFileSync(join(led, 'trigger'), 'none [mmc0] timer');
    writeFileSync(join(led, 'max_brightness'), '255');
    writeFileSync(join(led, 'brightness'), '0');
    const s = stick('led', [4]);
    const r = runSeed(s.dev);
    expect(r.status).toBe(1);
    // A plain file keeps only the last write: the trigger was put back, the LED left off.
    expect(readFileSync(join(led, 'trigger'), 'utf8')).toBe('mmc0');
    expect(readFileSync(join(led, 'brightness'), 'utf8')).toBe('0');
  });

  /** A source DB profiled from the demo capture, and two backups of it (old.db dated 2020). */
  function backupTree(name: string) {
    const src = join(dir, `${name}-src.db`);
    sh('node', [SENSORD, '--read', CAPTURE, '--db', src, '--quiet']);
    const tree = join(dir, `tree-${name}`);
    mkdirSync(join(tree, 'sensor-backup'), { recursive: true });
    sh('node', [SENSORCTL, 'backup', join(tree, 'sensor-backup', 'old.db'), '--db', src]);
    sh('node', [SENSORCTL, 'backup', join(tree, 'sensor-backup', 'new.db'), '--db', src]);
    sh('touch', ['-d', '2020-01-01', join(tree, 'sensor-backup', 'old.db')]);
    return { src, tree };
  }

  function expectSeededNewestFirst(r: ReturnType<typeof runSeed>, fstype: string, src: string) {
    expect(r.out).toMatch(new RegExp(`mounted /dev/loop\\d+p1 \\(${fstype}\\) read-only`));
    const order = [...r.out.matchAll(/(?:seeded from|skipped) (\w+)\.db/g)].map((m) => m[1]);
    expect(order).toEqual(['new', 'old']);
    // Both backups hold the same profiles from the same sensor: the second is a no-op by the ledger.
    expect(r.out).toMatch(/seeded: seeded 1 of 2 backup\(s\)/);
    expect(r.status).toBe(0);
    expect(r.stillMounted).toBe(false);
    expect(readdirSync(r.dbDir).filter((f) => f.startsWith('.usb-seed-'))).toEqual([]);
    const exported = sh('node', [SENSORCTL, 'export-profiles', '--db', join(r.dbDir, 'sensor.db')]);
    expect(exported).toBe(sh('node', [SENSORCTL, 'export-profiles', '--db', src]));
  }

  (hasSeed ? it : it.skip)('seeds every backup on an ext4 stick, newest first, from private copies', () => {
    const { src, tree } = backupTree('ext4');
    const s = stick('ext4', [16]);
    ext4From(s.parts[0], tree);
    const before = sh('sha256sum', [s.parts[0]]);
    const r = runSeed(s.dev);
    expectSeededNewestFirst(r, 'ext4', src);
    expect(sh('sha256sum', [s.parts[0]])).toBe(before); // read-only, noload: not even a journal replay
  });

  (hasSeed ? it : it.skip)('hands the merge to a running sensord, so its next flush keeps the seeded counts', async () => {
    const { src, tree } = backupTree('live');
    const s = stick('live', [16]);
    ext4From(s.parts[0], tree);
    const dbDir = mkdtempSync(join(dir, 'live-db-'));
    const db = join(dbDir, 'sensor.db');
    // The daemon reads an open, quiet pipe: it runs until we close it, as a sensor on a quiet link.
    const daemon = spawn('node', [SENSORD, '--read', '-', '--db', db, '--quiet', '--flush-interval', '0.2'], {
      env: { ...process.env, SENSOR_CONFIG: join(dir, 'defaults.yaml') }, stdio: ['pipe', 'ignore', 'pipe'],
    });
    let log = '';
    daemon.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
    const exited = new Promise<number | null>((r) => daemon.on('exit', r));
    try {
      for (let i = 0; i < 200 && !/control socket listening/.test(log); i++) await new Promise((r) => setTimeout(r, 50));
      expect(log).toMatch(/control socket listening/);
      // usb-seed runs with a RUNTIME_DIRECTORY of its own, as under systemd (where the sensor user
      // cannot read it: the image boot test covers that), and sensorctl still finds the daemon.
      const runtime = mkdtempSync(join(dir, 'run-'));
      const r = await new Promise<{ out: string; code: number | null }>((resolve) => {
        const child = spawn(SCRIPT, [s.dev], {
          env: {
            ...process.env, RUNTIME_DIRECTORY: runtime, SENSOR_DB: db, SENSOR_USER: '',
            SENSOR_CONFIG: join(dir, 'defaults.yaml'), SENSORCTL: `node ${SENSORCTL}`, SENSOR_LEDS: join(dir, 'no-leds'),
          },
        });
        let out = '';
        child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
        child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
        child.on('exit', (code) => resolve({ out, code }));
      });
      expect(r.out).toMatch(/seeded from new\.db .*"mode":"live"/);
      expect(r.code).toBe(0);
      await new Promise((res) => setTimeout(res, 1000)); // several flushes of the daemon
    } finally {
      daemon.stdin!.end();
      await exited;
    }
    expect(sh('node', [SENSORCTL, 'export-profiles', '--db', db])).toBe(sh('node', [SENSORCTL, 'export-profiles', '--db', src]));
  });

  (hasSeed && hasVfat ? it : it.skip)('seeds every backup on a FAT stick, newest first, from private copies', () => {
    const { src, tree } = backupTree('fat');
    const s = stick('fat', [16]);
    sh('mkfs.vfat', [s.parts[0]]);
    sh('mcopy', ['-i', s.parts[0], '-s', join(tree, 'sensor-backup'), '::/']);
    expectSeededNewestFirst(runSeed(s.dev), 'vfat', src);
  });

  (hasSeed ? it : it.skip)('writes a verified backup to sensor-export/ only when usb_export is enabled', () => {
    const { src, tree } = backupTree('export');
    mkdirSync(join(tree, 'sensor-export'));
    const s = stick('export', [16]);
    ext4From(s.parts[0], tree);
    const r = runSeed(s.dev, { SENSOR_CONFIG: writeConfig('export-on.yaml', 'usb_export: true\n') });
    expect(r.status).toBe(0);
    const m = /exported a backup to sensor-export\/(\S+\.db)/.exec(r.out);
    expect(m).not.toBeNull();
    expect(r.stillMounted).toBe(false);
    // Read the stick back: the exported file is a sensor DB holding what the sensor now has.
    const mnt = mkdtempSync(join(dir, 'check-'));
    sh('mount', ['-o', 'ro,noload', s.parts[0], mnt]);
    try {
      const files = readdirSync(join(mnt, 'sensor-export'));
      expect(files).toEqual([m![1]]); // no .partial left behind
      const copy = join(dir, 'exported.db');
      sh('cp', [join(mnt, 'sensor-export', m![1]), copy]);
      expect(sh('node', [SENSORCTL, 'export-profiles', '--db', copy])).toBe(sh('node', [SENSORCTL, 'export-profiles', '--db', src]));
    } finally {
      spawnSync('umount', [mnt]);
    }
  });
});
