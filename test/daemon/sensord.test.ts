/**
 * sensord end to end: the real daemon as a subprocess on the project's demo capture (real loopback
 * traffic), a real SQLite file, restarts, damage, signals and bad configuration.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { DEMO_PCAP, ROOT, SENSORD, collect, jsonLines, requireBuild, runNode, startNode, waitFor } from '../helpers/subprocess.js';

let dir: string;
beforeAll(() => requireBuild());
beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'sensord-test-')); });
afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface Row { anchor_key: string; companion_key: string; count: number; total_seen: number }

function profileRows(db: string): Row[] {
  const conn = new Database(db, { readonly: true });
  try {
    return conn.prepare('SELECT anchor_key, companion_key, count, total_seen FROM behavior_profiles_current ORDER BY anchor_key, companion_key').all() as Row[];
  } finally {
    conn.close();
  }
}

function alertRows(db: string): { payload: string }[] {
  const conn = new Database(db, { readonly: true });
  try {
    const cols = (conn.prepare("SELECT name FROM pragma_table_info('alerts')").all() as { name: string }[]).map((c) => c.name);
    const col = cols.includes('payload') ? 'payload' : cols.includes('json') ? 'json' : cols[cols.length - 1];
    return conn.prepare(`SELECT ${col} AS payload FROM alerts`).all() as { payload: string }[];
  } finally {
    conn.close();
  }
}

const DEVICE_ANCHOR = 'client_ip>ja4:127.0.0.2';

describe('sensord --read on the demo capture', () => {
  test('profiles the device, alerts once on its new TLS client, stores both, exits 0', async () => {
    const db = path.join(dir, 'sensor.db');
    const r = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', db]);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
    expect(r.code).toBe(0);
    const alerts = jsonLines(r.stdout);
    const device = alerts.filter((a) => (a.alert as { anchor: string }).anchor === DEVICE_ANCHOR);
    expect(device).toHaveLength(1);
    const a = device[0] as { timestamp: string; sensor_id: string; event_type: string; alert: Record<string, unknown>; flow: Record<string, unknown> };
    expect(a.event_type).toBe('alert');
    expect(typeof a.sensor_id).toBe('string');
    expect(a.timestamp).toMatch(/^2026-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$/);
    expect(a.alert).toMatchObject({ kind: 'new_companion', anchor: DEVICE_ANCHOR, count: 1, total_seen: 61 });
    expect(Object.keys(a.alert).sort()).toEqual(['anchor', 'companion', 'count', 'kind', 'message', 'severity', 'total_seen']);
    expect(a.flow).toMatchObject({ src_ip: '127.0.0.2', dest_ip: '127.0.0.1', dest_port: 18443, proto: 'TCP' });
    // No (anchor, companion) alerts twice.
    const keys = alerts.map((x) => `${(x.alert as { anchor: string }).anchor}|${(x.alert as { companion: string }).companion}`);
    expect(new Set(keys).size).toBe(keys.length);

    const rows = profileRows(db).filter((row) => row.anchor_key === DEVICE_ANCHOR);
    expect(rows).toHaveLength(2);
    expect(rows.map((row) => row.count).sort((x, y) => x - y)).toEqual([1, 60]);
    for (const row of rows) expect(row.total_seen).toBe(61);
    expect(alertRows(db).length).toBe(alerts.length);
  });

  test('a restart loads the profiles and keeps counting: a second run doubles every count', async () => {
    const db = path.join(dir, 'sensor.db');
    expect((await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', db, '-q'])).code).toBe(0);
    const first = profileRows(db);
    expect(first.length).toBeGreaterThan(0);
    const r2 = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', db]);
    expect(r2.code).toBe(0);
    const second = profileRows(db);
    expect(second.map((r) => `${r.anchor_key}|${r.companion_key}`)).toEqual(first.map((r) => `${r.anchor_key}|${r.companion_key}`));
    second.forEach((row, i) => {
      expect(row.count).toBe(first[i].count * 2);
      expect(row.total_seen).toBe(first[i].total_seen * 2);
    });
    // The device's profile is now established: its known second client is not "new" any more.
    const again = jsonLines(r2.stdout).filter((x) => (x.alert as { kind: string; anchor: string }).anchor === DEVICE_ANCHOR && (x.alert as { kind: string }).kind === 'new_companion');
    expect(again).toHaveLength(0);
  });

  test('a truncated capture is processed up to the damage, flushed, and ends with the file and offset named', async () => {
    const db = path.join(dir, 'sensor.db');
    const cut = path.join(dir, 'cut.pcap');
    const bytes = readFileSync(DEMO_PCAP);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.75) + 7));
    const r = await runNode(SENSORD, ['--read', cut, '--db', db, '-q']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(cut);
    expect(r.stderr).toMatch(/byte offset \d+/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    const rows = profileRows(db).filter((row) => row.anchor_key === DEVICE_ANCHOR);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0].total_seen).toBeGreaterThan(20);
    expect(rows[0].total_seen).toBeLessThan(61);
  });

  test('a file that is not a capture is refused with a clear message', async () => {
    const junk = path.join(dir, 'junk.pcap');
    writeFileSync(junk, 'this is not a capture file at all\n');
    const r = await runNode(SENSORD, ['--read', junk, '--db', path.join(dir, 's.db')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a pcap or pcapng capture/);
    const missing = await runNode(SENSORD, ['--read', path.join(dir, 'nope.pcap'), '--db', path.join(dir, 'new', 's.db')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/capture file not found: .*nope\.pcap/);
    const directory = await runNode(SENSORD, ['--read', dir, '--db', path.join(dir, 'new', 's.db')]);
    expect(directory.code).toBe(2);
    expect(directory.stderr).toMatch(/is not a file/);
    symlinkSync('loop-b.pcap', path.join(dir, 'loop-a.pcap'));
    symlinkSync('loop-a.pcap', path.join(dir, 'loop-b.pcap'));
    const loop = await runNode(SENSORD, ['--read', path.join(dir, 'loop-a.pcap'), '--db', path.join(dir, 'new', 's.db')]);
    expect(loop.code).toBe(2);
    expect(loop.stderr).toMatch(/^sensord: cannot read capture .*loop-a\.pcap: a loop of symbolic links\n$/);
    // Refused before the database is opened: a typo leaves no empty database (or directory) behind.
    expect(existsSync(path.join(dir, 'new'))).toBe(false);
  });
});

/** A sensord reading the demo capture from a pipe kept open, as from a live tcpdump, once it has flushed it. */
async function pipedSensordAfterFlush(db: string) {
  const child = startNode(SENSORD, ['--read', '-', '--db', db, '-q', '--flush-interval', '0.2']);
  const done = collect(child, 30_000);
  child.stdin?.write(readFileSync(DEMO_PCAP));
  await waitFor(() => {
    try { return profileRows(db).some((r) => r.anchor_key === DEVICE_ANCHOR && r.total_seen === 61); } catch { return false; }
  }, 20_000, 'the periodic flush to write the profiles');
  return { child, done };
}

describe('sensord --read - (a pipe) and signals', () => {
  test('SIGTERM while reading a pipe flushes what was seen and exits 0', async () => {
    const db = path.join(dir, 'sensor.db');
    const { child, done } = await pipedSensordAfterFlush(db);
    child.kill('SIGTERM');
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/stopping \(SIGTERM\)/);
    expect(r.stderr).toMatch(/final flush/);
  });
});

describe('stopping while the input stays open', () => {
  test('a FIFO whose writer stays: SIGTERM stops at once, flushes, exits 0; SIGHUP (a dropped session) does the same', async () => {
    for (const signal of ['SIGTERM', 'SIGHUP'] as const) {
      const fifo = path.join(dir, `in-${signal}.fifo`);
      expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
      const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
      const writer = spawn('bash', ['-c', `exec 3>${q(fifo)}; cat ${q(DEMO_PCAP)} >&3; sleep 60`], { stdio: 'ignore' });
      const db = path.join(dir, `${signal}.db`);
      const child = startNode(SENSORD, ['--read', fifo, '--db', db, '--flush-interval', '600']);
      child.stdin?.end();
      const done = collect(child, 30_000);
      let log = '';
      child.stderr?.on('data', (d) => { log += d; });
      await waitFor(() => log.includes('capture started'), 20_000, 'the capture to start');
      await new Promise((r) => setTimeout(r, 1500)); // the whole capture is read; the writer keeps the FIFO open
      const t0 = Date.now();
      child.kill(signal);
      const r = await done;
      const took = Date.now() - t0;
      writer.kill();
      expect(r.code).toBe(0);
      expect(took).toBeLessThan(10_000); // not "when the writer goes away" (60 s)
      expect(profileRows(db).filter((row) => row.anchor_key === DEVICE_ANCHOR).map((row) => row.total_seen)).toEqual([61, 61]);
    }
  });
});

describe('closed output pipes', () => {
  test('stdout and stderr closed by their reader (`2>&1 | head -1`) lose no flush: exit 0, every count stored', async () => {
    const db = path.join(dir, 'sensor.db');
    const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    const r = spawnSync('bash', ['-c', `${q(process.execPath)} ${q(SENSORD)} --read ${q(DEMO_PCAP)} --db ${q(db)} 2>&1 </dev/null | head -c 1 >/dev/null; echo "\${PIPESTATUS[0]}"`],
      { cwd: ROOT, encoding: 'utf8', env: { ...process.env, SENSOR_CONFIG: '' } });
    expect(r.stdout.trim()).toBe('0');
    expect(profileRows(db).filter((r) => r.anchor_key === DEVICE_ANCHOR).map((r) => r.total_seen)).toEqual([61, 61]);
    expect(existsSync(`${db}.lock`)).toBe(false);
  });
});

describe('one sensord per database', () => {
  test('a second sensord on the same database refuses to start (exit 4) and writes nothing; the first keeps every count', async () => {
    const db = path.join(dir, 'sensor.db');
    const { child: first, done: firstDone } = await pipedSensordAfterFlush(db);
    const before = readFileSync(db);
    const second = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', db, '-q']);
    expect(second.code).toBe(4);
    expect(second.stderr).toMatch(/database .*sensor\.db is in use by another writer, pid \d+ \(sensord\); stop it, or let it do the work through its control socket/);
    // The same file by another name is the same database: through a symlink the lock is found,
    // and a hard link (its own lock and -wal name) is refused outright.
    symlinkSync(db, path.join(dir, 'link.db'));
    const viaLink = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', path.join(dir, 'link.db'), '-q']);
    expect(viaLink.code).toBe(4);
    expect(viaLink.stderr).toMatch(/link\.db is in use by another writer, pid \d+ \(sensord\)/);
    linkSync(db, path.join(dir, 'hard.db'));
    const viaHardLink = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', path.join(dir, 'hard.db'), '-q']);
    expect(viaHardLink.code).toBe(4);
    expect(viaHardLink.stderr).toMatch(/hard\.db has 2 hard links; .*remove the other links/);
    rmSync(path.join(dir, 'hard.db'));
    expect(readFileSync(db).equals(before)).toBe(true);
    first.stdin?.end();
    expect((await firstDone).code).toBe(0);
    expect(profileRows(db).filter((r) => r.anchor_key === DEVICE_ANCHOR).map((r) => r.total_seen)).toEqual([61, 61]);
    // Its lock is gone with it: the next sensord starts and adds its run, so every count doubles.
    expect((await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', db, '-q'])).code).toBe(0);
    expect(profileRows(db).filter((r) => r.anchor_key === DEVICE_ANCHOR).map((r) => r.total_seen)).toEqual([122, 122]);
  });
});

describe('sensord configuration', () => {
  test('an invalid config is refused with the offending key named, exit 78', async () => {
    const cfg = path.join(dir, 'sensor.yaml');
    writeFileSync(cfg, 'min_seen: -3\nflush_intervall: 30\npairs:\n  - anchor: ja4\n    companion: colour\n');
    const r = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', path.join(dir, 's.db'), '--config', cfg]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/min_seen: must be >= 1/);
    expect(r.stderr).toMatch(/unknown setting "flush_intervall"/);
    expect(r.stderr).toMatch(/pairs\.0\.companion: must be one of/);
  });

  test('infinite or absurd numbers are refused with the key named (YAML .inf once became a 1 ms flush loop)', async () => {
    const cfg = path.join(dir, 'sensor.yaml');
    writeFileSync(cfg, 'flush_interval: .inf\ncaps: { max_flows: 1e400 }\n');
    const r = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', path.join(dir, 's.db'), '--config', cfg]);
    expect(r.code).toBe(78);
    expect(r.stderr).toMatch(/flush_interval: must be <= 86400/);
    expect(r.stderr).toMatch(/caps\.max_flows: must be <= 10000000/);
    expect(r.stderr).not.toMatch(/TimeoutOverflowWarning/);
  });

  test('pairs the enabled methods can never observe: refused when written, left out (and said) from the defaults', async () => {
    const db = path.join(dir, 's.db');
    const cfg = path.join(dir, 'sensor.yaml');
    writeFileSync(cfg, 'methods: [ja4]\npairs: [{ anchor: ja4, companion: ja4t }]\n');
    const refused = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', db, '--config', cfg]);
    expect(refused.code).toBe(78);
    expect(refused.stderr).toMatch(/pair ja4 -> ja4t can never be profiled: it needs ja4t, which is not in methods \(ja4\)/);
    writeFileSync(cfg, 'pairs: [{ anchor: ja4, companion: ja4 }]\n');
    expect((await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', db, '--config', cfg])).stderr).toMatch(/pairs ja4 with itself/);
    // The licensing section's commercial set-up: methods [ja4] with the default pairs keeps client_ip -> ja4.
    writeFileSync(cfg, 'methods: [ja4]\n');
    const ja4Only = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', db, '--config', cfg, '-q']);
    expect(ja4Only.code).toBe(0);
    expect(ja4Only.stderr).toMatch(/default pair ja4 -> ja4t left out: it needs ja4t, which is not in methods \(ja4\)/);
    expect(new Set(profileRows(db).map((r) => r.anchor_key))).toEqual(new Set([DEVICE_ANCHOR]));
  });

  test('a JSON config takes effect: min_seen and the pair list', async () => {
    const cfg = path.join(dir, 'sensor.json');
    writeFileSync(cfg, JSON.stringify({ min_seen: 1000, pairs: [{ anchor: 'client_ip', companion: 'ja4' }] }));
    const db = path.join(dir, 's.db');
    const r = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', db, '--config', cfg]);
    expect(r.code).toBe(0);
    expect(jsonLines(r.stdout)).toHaveLength(0); // 61 sightings are below min_seen 1000
    const anchors = new Set(profileRows(db).map((row) => row.anchor_key.split(':')[0]));
    expect([...anchors]).toEqual(['client_ip>ja4']);
  });

  test('nothing to capture is a usage error', async () => {
    const r = await runNode(SENSORD, ['--db', path.join(dir, 's.db')]);
    expect(r.code).toBe(64);
    expect(r.stderr).toMatch(/nothing to capture/);
  });

  test('usage errors exit 64 with the problem named: an unknown option, an option given twice', async () => {
    const unknown = await runNode(SENSORD, ['--read', DEMO_PCAP, '--bogus']);
    expect(unknown.code).toBe(64);
    expect(unknown.stderr).toMatch(/Unknown argument: bogus/);
    const twice = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', path.join(dir, 'a.db'), '--db', path.join(dir, 'b.db')]);
    expect(twice.code).toBe(64);
    expect(twice.stderr).toMatch(/--db was given 2 times; give it once/);
    // An option with its value forgotten parses as '': named, not taken as a path.
    for (const [args, message] of [
      [['--read', '--db', path.join(dir, 'c.db')], /--read needs a value: a capture file, or - for standard input/],
      [['--read', DEMO_PCAP, '--db='], /--db needs a value/],
      [['--interface', '', '--db', path.join(dir, 'c.db')], /--interface needs a value/],
      [['--read', DEMO_PCAP, '--db', path.join(dir, 'c.db'), '--flush-interval'], /--flush-interval needs a value/],
      [['--read', DEMO_PCAP, '--db', path.join(dir, 'c.db'), '--flush-interval', 'abc'], /--flush-interval must be a number of seconds/],
      [['-r', '--db', path.join(dir, 'c.db')], /--read needs a value: a capture file, or - for standard input/],
    ] as [string[], RegExp][]) {
      const r = await runNode(SENSORD, args);
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(message);
    }
    const noMethod = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', path.join(dir, 'c.db'), '--methods', ',']);
    expect(noMethod.code).toBe(64); // given on the command line: a usage error, as for sensorctl
    expect(noMethod.stderr).toMatch(/--methods names no method/);
    const badUrl = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', path.join(dir, 'c.db'), '--mqtt-url', 'notaurl']);
    expect(badUrl.code).toBe(64);
    expect(badUrl.stderr).toMatch(/--mqtt-url: 'notaurl' must be mqtt:\/\/, mqtts:\/\//);
    const badPort = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', path.join(dir, 'c.db'), '--mqtt-url', 'mqtt://127.0.0.1:99999']);
    expect(badPort.code).toBe(64);
    expect(badPort.stderr).toMatch(/--mqtt-url: .* is not a valid URL/);
    const noKeyLog = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', path.join(dir, 'c.db'), '--keylog', path.join(dir, 'none.keys')]);
    expect(noKeyLog.code).toBe(66);
    expect(noKeyLog.stderr).toMatch(/^sensord: key-log file not found: .*none\.keys$/m);
    const cfg = path.join(dir, 'mqtt.yaml');
    writeFileSync(cfg, 'mqtt:\n  url: mqtt://127.0.0.1\n  ca: /nonexistent/ca.pem\n');
    const badCa = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', path.join(dir, 'c.db'), '--config', cfg]);
    expect(badCa.code).toBe(78);
    expect(badCa.stderr).toMatch(/config mqtt\.ca: \/nonexistent\/ca\.pem does not exist/);
    writeFileSync(path.join(dir, 'a-file'), '');
    const underFile = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', path.join(dir, 'a-file', 's.db')]);
    expect(underFile.code).toBe(4);
    expect(underFile.stderr).toMatch(/cannot create the directory .*a-file for database .*: a part of that path is a file, not a directory/);
    const tiny = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', path.join(dir, 'c.db'), '--flush-interval', '1e-300']);
    expect(tiny.code).toBe(64);
    expect(tiny.stderr).toMatch(/--flush-interval must be a number of seconds from 0\.01 to 86400/);
    const dirAsDb = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', `${dir}/`]);
    expect(dirAsDb.code).toBe(4);
    expect(dirAsDb.stderr).toMatch(/is a directory; name a file in it/);
    expect(existsSync(path.join(dir, 'c.db'))).toBe(false);
  });

  test('a text file named as the database is refused (exit 4) and left as it was', async () => {
    const cfg = path.join(dir, 'sensor.yaml');
    writeFileSync(cfg, 'min_seen: 5\n');
    const r = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', cfg, '-q']);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/sensor\.yaml is a text file, not a sensor database; it was not modified/);
    expect(readFileSync(cfg, 'utf8')).toBe('min_seen: 5\n');
  });

  test('the database file is left alone when the DB is not a sensor DB', async () => {
    const db = path.join(dir, 'other.db');
    const other = new Database(db);
    other.exec('CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers(name) VALUES (\'x\');');
    other.close();
    const before = statSync(db).size;
    const r = await runNode(SENSORD, ['--read', DEMO_PCAP, '--db', db]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not a sensor database|sensor/i);
    expect(statSync(db).size).toBe(before);
    copyFileSync(db, path.join(dir, 'copy.db'));
  });
});
