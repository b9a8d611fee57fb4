/**
 * export-profiles, import-profiles, profiles, alerts and the conventions every command shares
 * (--help with examples and exit codes, usage errors, config errors), on real database files.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { openSensorDb } from '../../src/storage/db.js';
import { CLI, DEMO_PCAP, SENSORD, T0, cli, exportRows, fileDigest, json, makeSensorDb, tempDir, type Row } from './helpers.js';

const A = 'ja4>ja4t:t13d1516h2_8daaf6152771_02713d6af862';
const H = 'ja4>ja4h:t13d1516h2_8daaf6152771_02713d6af862';
const ROWS: Row[] = [
  [A, '64240_2-4-8-1-3_1460_7', 98, 100, T0 + 1000],
  [A, 'odd,"value"', 2, 100, T0 + 86_400_000],
  [H, 'ge11nn05enus_9ed1ff1f7b03_cd8dafe26982_000000000000', 40, 40, T0 + 2000],
];

let dir: string;
beforeEach(() => { dir = tempDir(); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

describe('export-profiles', () => {
  test('JSON lines by default: one object per row, sorted, total_seen the anchor total', () => {
    const db = makeSensorDb(path.join(dir, 's.db'), ROWS);
    const r = cli(['export-profiles', '--db', db]);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toEqual({ anchor_key: H, companion_key: ROWS[2]![1], count: 40, total_seen: 40, last_updated: T0 + 2000 });
    expect(lines.map((l) => l.companion_key)).toEqual([ROWS[2]![1], ROWS[0]![1], ROWS[1]![1]]);
  });

  test('CSV with a header and quoting; --anchor and --since filters', () => {
    const db = makeSensorDb(path.join(dir, 's.db'), ROWS);
    const csv = cli(['export-profiles', '--db', db, '--format', 'csv', '--anchor', 'ja4>ja4t:']).stdout;
    expect(csv).toBe('anchor_key,companion_key,count,total_seen,last_updated\n' +
      `${A},64240_2-4-8-1-3_1460_7,98,100,${T0 + 1000}\n` +
      `${A},"odd,""value""",2,100,${T0 + 86_400_000}\n`);
    const since = cli(['export-profiles', '--db', db, '--since', new Date(T0 + 3600_000).toISOString()]).stdout.trim().split('\n');
    expect(since).toHaveLength(1);
    expect(JSON.parse(since[0]!)).toMatchObject({ companion_key: 'odd,"value"', count: 2, total_seen: 100 });
    expect(cli(['export-profiles', '--db', db, '--since', 'yesterday-ish']).code).toBe(64);
    expect(cli(['export-profiles', '--db', db, '--anchor', 'nothing:']).stdout).toBe('');
  });

  test('--output writes atomically; a failure leaves no file', () => {
    const db = makeSensorDb(path.join(dir, 's.db'), ROWS);
    const out = path.join(dir, 'out', 'p.jsonl');
    fs.mkdirSync(path.dirname(out));
    expect(cli(['export-profiles', '--db', db, '-o', out]).code).toBe(0);
    expect(fs.readdirSync(path.dirname(out))).toEqual(['p.jsonl']);
    expect(fs.readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(3);
    const missing = cli(['export-profiles', '--db', path.join(dir, 'none.db'), '-o', path.join(dir, 'out', 'q.jsonl')]);
    expect(missing.code).toBe(66);
    expect(missing.stderr).toMatch(/^sensorctl: database .*none\.db does not exist$/m);
    expect(fs.readdirSync(path.dirname(out))).toEqual(['p.jsonl']);
  });

  test('a database with an unfolded journal exports base ⊕ journal', () => {
    const file = path.join(dir, 'j.db');
    makeSensorDb(file, ROWS);
    const store = openSensorDb(file);
    store.db.prepare('INSERT INTO profile_journal (op, anchor_key, companion_key, count, total_seen, last_updated) VALUES (0, ?, ?, 99, 101, ?)').run(A, '64240_2-4-8-1-3_1460_7', T0 + 5000);
    store.db.prepare("INSERT INTO profile_journal (op, anchor_key, companion_key, count, total_seen, last_updated) VALUES (1, ?, 'odd,\"value\"', 0, 0, 0)").run(A);
    store.close();
    expect(exportRows(file)).toEqual([ROWS[2], [A, '64240_2-4-8-1-3_1460_7', 99, 101, T0 + 5000]]);
    expect(exportRows(file)).toEqual(cli(['export-profiles', '--db', file, '--anchor', 'ja4>']).stdout.trim().split('\n').map((l) => Object.values(JSON.parse(l))));
  });
});

describe('import-profiles', () => {
  test('round trip through an export file, idempotent', () => {
    const src = makeSensorDb(path.join(dir, 's.db'), ROWS);
    const file = path.join(dir, 'p.jsonl');
    expect(cli(['export-profiles', '--db', src, '-o', file]).code).toBe(0);
    const dest = path.join(dir, 'd.db');
    const r = cli(['import-profiles', file, '--db', dest, '--json']);
    expect(json(r)).toMatchObject({ outcome: 'applied', kind: 'import', mode: 'file', source_rows: 3 });
    expect(exportRows(dest)).toEqual(exportRows(src));
    expect(cli(['import-profiles', file, '--db', dest]).code).toBe(3);
    // The same rows are the same source whatever they are called or wherever they come from.
    const relabelled = cli(['import-profiles', '-', '--db', dest, '--source-id', 'another-name'], { input: fs.readFileSync(file) });
    expect(relabelled.code).toBe(3);
    expect(relabelled.stdout).toMatch(/already applied/);
    // A backup of a database seeded back into that same database would count everything twice.
    const ownBackup = path.join(dir, 'own-backup.db');
    expect(cli(['backup', ownBackup, '--db', src]).code).toBe(0);
    // `backup -` streams the same verified copy to standard output, its summary to stderr.
    const piped = spawnSync(process.execPath, [CLI, 'backup', '-', '--db', src], { env: { ...process.env, SENSOR_DB: '', SENSOR_CONFIG: '' } });
    expect(piped.status).toBe(0);
    expect(piped.stderr.toString()).toMatch(/^backup written to standard output: .* quick_check ok\n$/);
    fs.writeFileSync(path.join(dir, 'piped.db'), piped.stdout);
    expect(exportRows(path.join(dir, 'piped.db'))).toEqual(exportRows(ownBackup));
    const srcRows = exportRows(src);
    const own = cli(['seed', ownBackup, '--db', src]);
    expect(own.code).toBe(65);
    expect(own.stderr).toMatch(/own-backup\.db is a backup of this same database \(sensor source-sensor, created .*\): merging it would count its history twice/);
    expect(exportRows(src)).toEqual(srcRows);
    const seededThenImported = path.join(dir, 'e.db');
    expect(cli(['seed', src, '--db', seededThenImported]).code).toBe(0);
    expect(cli(['import-profiles', file, '--db', seededThenImported, '--source-id', 'source-sensor']).code).toBe(3);
    expect(exportRows(seededThenImported)).toEqual(exportRows(src));
  });

  test('a database\'s own export imported back into it is refused (it would double every count); --force imports it', () => {
    const db = makeSensorDb(path.join(dir, 'own.db'), ROWS);
    const file = path.join(dir, 'own.jsonl');
    expect(cli(['export-profiles', '--db', db, '-o', file]).code).toBe(0);
    const before = exportRows(db);
    const r = cli(['import-profiles', file, '--db', db]);
    expect(r.code).toBe(65);
    expect(r.stderr).toMatch(/every one of the \d+ rows of .*own\.jsonl equals what .*own\.db already holds: it is this database's own export, and merging it would count its history twice; nothing was changed \(--force merges it anyway\)/);
    expect(exportRows(db)).toEqual(before);
    expect(cli(['import-profiles', file, '--db', db, '--force']).code).toBe(0);
    expect(exportRows(db).map((row) => row[2])).toEqual(before.map((row) => 2 * row[2]));
  });

  test('sums past the largest count saturate, so the merged profiles export and import again', () => {
    const max = 2 ** 40;
    const dest = makeSensorDb(path.join(dir, 'd.db'), [[A, 'c', max - 5, max - 5, T0]]);
    const rows = `${JSON.stringify({ anchor_key: A, companion_key: 'c', count: 100, total_seen: 100, last_updated: T0 + 1 })}\n`;
    expect(cli(['import-profiles', '-', '--db', dest], { input: rows }).code).toBe(0);
    expect(exportRows(dest)).toEqual([[A, 'c', max, max, T0 + 1]]);
    const again = cli(['import-profiles', '-', '--db', path.join(dir, 'fresh.db')], { input: cli(['export-profiles', '--db', dest]).stdout });
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
  });

  test('rows beyond the sensor\'s caps are merged with a warning saying what sensord will drop', () => {
    const cfg = path.join(dir, 'caps.yaml');
    fs.writeFileSync(cfg, 'caps:\n  max_anchors: 2\n');
    const rows = ['a', 'b', 'c'].map((x) => JSON.stringify({ anchor_key: `ja4>ja4t:${x}`, companion_key: 'c', count: 1, total_seen: 1, last_updated: T0 })).join('\n');
    const r = cli(['import-profiles', '-', '--db', path.join(dir, 'caps.db'), '--config', cfg, '--json'], { input: `${rows}\n` });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^sensorctl: warning: the database now holds 3 anchors, more than caps\.max_anchors \(2\): sensord keeps the 2 most recently updated and drops the other 1, when it starts \(and deletes them at its first flush\); raise the caps/);
    expect(json(r).warning).toMatch(/more than caps\.max_anchors/);
  });

  test('an anchor wider than caps.max_companions_per_anchor: the merge warns, and sensord warns when it drops the rows', () => {
    const cfg = path.join(dir, 'caps.yaml');
    fs.writeFileSync(cfg, 'caps:\n  max_companions_per_anchor: 4\n');
    const rows = Array.from({ length: 10 }, (_, i) => JSON.stringify({ anchor_key: 'client_ip>ja4:10.9.9.9', companion_key: `c${i}`, count: 5, total_seen: 50, last_updated: T0 + i })).join('\n');
    const db = path.join(dir, 'wide.db');
    const r = cli(['import-profiles', '-', '--db', db, '--config', cfg], { input: `${rows}\n` });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^sensorctl: warning: the database now holds 1 anchors with more than caps\.max_companions_per_anchor \(4\) companions: sensord keeps the 4 most recently updated of each and drops the other 6 rows, when it starts/);
    const d = spawnSync(process.execPath, [SENSORD, '--read', DEMO_PCAP, '--db', db, '--config', cfg, '-q'], { encoding: 'utf8', timeout: 60_000 });
    expect(d.status).toBe(0);
    expect(d.stderr).toMatch(/the database holds more than the caps allow: 0 least recently updated anchors and 6 companion rows beyond caps\.max_companions_per_anchor \(4\) were not loaded/);
  });

  test('bad input is rejected whole, with the line, and the destination untouched', () => {
    const dest = makeSensorDb(path.join(dir, 'd.db'), ROWS);
    const before = fileDigest(dest);
    const good = (over: Record<string, unknown> = {}) => JSON.stringify({ anchor_key: A, companion_key: 'c', count: 1, total_seen: 2, last_updated: T0, ...over });
    const cases: [string, RegExp][] = [
      [`${good()}\nnot json\n`, /line 2: not valid JSON/],
      [`${good({ count: -1 })}\n`, /line 1: negative count -1/],
      [`${good({ count: 3 })}\n`, /line 1: count 3 is larger than total_seen 2/],
      [`${good({ extra: 1 })}\n`, /line 1: unknown field "extra"/],
      [`${good({ companion_key: 'z' })}\n${good({ companion_key: 'a' })}\n`, /out of order or repeated/],
      [`${good({ anchor_key: 'ja4>ja4t:b' })}\n${good({ anchor_key: 'ja4>ja4t:a' })}\n`, /not sorted by anchor_key/],
      [`${good({ last_updated: 1e15 })}\n`, /line 1: last_updated .* is in the future/],
      [`${good().replace('"count":1,', '"count":9007199254740993,').replace('"total_seen":2', '"total_seen":9007199254740993')}\n`, /line 1: count 9007199254740992 is out of range/],
      [`${good({ last_updated: 1e300 })}\n`, /line 1: last_updated 1e\+300 is out of range/],
      [`${good({ count: 1.5 })}\n`, /line 1: count must be an integer/],
      [`${good({ anchor_key: 'ja4>ja4t:a\u0000b' })}\n`, /line 1: anchor_key has characters outside printable ASCII/],
      [`${good({ companion_key: 'x'.repeat(300) })}\n`, /longer than 256 bytes/],
      [`${'x'.repeat(5000)}\n`, /line 1 is longer than 4096 bytes/],
      ['', /is empty/],
      ['\n\n', /holds no profile rows, only blank lines/],
    ];
    for (const [input, message] of cases) {
      const r = cli(['import-profiles', '-', '--db', dest], { input });
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 65, stderr: expect.stringMatching(message) });
    }
    expect(cli(['import-profiles', path.join(dir, 'none.jsonl'), '--db', dest]).code).toBe(66);
    expect(fileDigest(dest)).toBe(before);
  });
});

describe('profiles', () => {
  test('an anchor\'s companions with counts and fractions, by key or by value', () => {
    const db = makeSensorDb(path.join(dir, 's.db'), ROWS);
    const r = cli(['profiles', '--db', db, '--anchor', A]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${A}\n  seen 100 times with 2 companions\n` +
      `          98   98.00%  2024-05-01T00:00:01Z  64240_2-4-8-1-3_1460_7\n` +
      `           2    2.00%  2024-05-02T00:00:00Z  odd,"value"\n`);
    const byValue = cli(['profiles', '--db', db, '--anchor', 't13d1516h2_8daaf6152771_02713d6af862', '--json', '--top', '1']);
    const rows = byValue.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toEqual([
      { anchor_key: H, companion_key: ROWS[2]![1], count: 40, total_seen: 40, last_updated: T0 + 2000, fraction: 1, rare: false },
      { anchor_key: A, companion_key: ROWS[0]![1], count: 98, total_seen: 100, last_updated: T0 + 1000, fraction: 0.98, rare: false },
    ]);
    expect(cli(['profiles', '--db', db]).stdout).toMatch(new RegExp(`^ +100 +2 companions  ${A.replace(/[>]/g, '.')}$`, 'm'));
    const none = cli(['profiles', '--db', db, '--anchor', 'nope']);
    expect(none.code).toBe(66);
    expect(none.stderr).toMatch(/no profile for anchor nope/);
  });
});

describe('alerts', () => {
  test('stored alerts with --since, --kind and --limit', () => {
    const file = makeSensorDb(path.join(dir, 's.db'), ROWS);
    const db = new Database(file);
    const put = db.prepare('INSERT INTO alerts (created_at, severity, kind, anchor, companion, payload) VALUES (?, ?, ?, ?, ?, ?)');
    for (let i = 0; i < 5; i++) {
      const kind = i % 2 ? 'rare_companion' : 'new_companion';
      const record = {
        timestamp: new Date(T0 + i * 3600_000).toISOString(), sensor_id: 's', event_type: 'alert',
        alert: { kind, severity: 'high', anchor: A, companion: `c${i}`, count: 1, total_seen: 60, message: `message ${i}` },
        flow: { src_ip: '10.0.0.1', src_port: 5000 + i, dest_ip: '10.0.0.2', dest_port: 443, proto: 'TCP' },
      };
      put.run(T0 + i * 3600_000, 'high', kind, A, `c${i}`, JSON.stringify(record));
    }
    db.close();
    const all = cli(['alerts', '--db', file]).stdout.trim().split('\n');
    expect(all).toHaveLength(5);
    expect(all[0]).toBe('2024-05-01T00:00:00Z  high     new_companion   message 0  [TCP 10.0.0.1:5000 -> 10.0.0.2:443]');
    // A replayed capture's alert: its own (traffic) time first, the stored time beside it.
    const replayed = new Database(file);
    const old = { timestamp: '2023-01-02T03:04:05.000+0000', sensor_id: 's', event_type: 'alert',
      alert: { kind: 'new_companion', severity: 'high', anchor: A, companion: 'old', count: 1, total_seen: 60, message: 'replayed' } };
    replayed.prepare('INSERT INTO alerts (created_at, severity, kind, anchor, companion, payload) VALUES (?, ?, ?, ?, ?, ?)')
      .run(T0 + 10 * 3600_000, 'high', 'new_companion', A, 'old', JSON.stringify(old));
    replayed.close();
    expect(cli(['alerts', '--db', file]).stdout.trim().split('\n').pop()).toBe('2023-01-02T03:04:05Z (stored 2024-05-01T10:00:00Z)  high     new_companion   replayed');
    const cleanup = new Database(file);
    cleanup.prepare("DELETE FROM alerts WHERE companion = 'old'").run();
    cleanup.close();
    const some = cli(['alerts', '--db', file, '--kind', 'new_companion', '--limit', '2', '--json']).stdout.trim().split('\n');
    expect(some.map((l) => (JSON.parse(l) as { alert: { companion: string } }).alert.companion)).toEqual(['c2', 'c4']);
    expect(cli(['alerts', '--db', file, '--since', new Date(T0 + 3 * 3600_000).toISOString()]).stdout.trim().split('\n')).toHaveLength(2);
    expect(cli(['alerts', '--db', file, '--kind', 'bogus']).code).toBe(64);
    // A negative age reaches the time parser (not yargs' "Unknown arguments: 5, d").
    const negative = cli(['alerts', '--db', file, '--since', '-5d']);
    expect(negative.code).toBe(64);
    expect(negative.stderr).toMatch(/cannot read the time "-5d": use ISO 8601/);
  });
});

describe('conventions', () => {
  const commands = ['status', 'alerts', 'profiles', 'export-profiles', 'import-profiles', 'seed', 'backup'];
  test.each(commands)('%s --help shows options, examples and exit codes', (command) => {
    const r = cli([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--db/);
    expect(r.stdout).toMatch(/--config/);
    expect(r.stdout).toMatch(/Examples:/);
    expect(r.stdout).toMatch(/Exit codes: 0 done; 3 nothing to do/);
  });

  test('usage errors exit 64; a bad config exits 78 with one line; completion is there', () => {
    const unknown = cli(['seed']);
    expect(unknown.code).toBe(64);
    const frob = cli(['frobnicate']);
    expect(frob.code).toBe(64);
    expect(frob.stderr).toMatch(/^sensorctl: Unknown command: frobnicate\n/);
    expect(cli(['stauts']).stderr).toMatch(/^sensorctl: Unknown command: stauts\. Did you mean status\?\n/);
    const cfg = path.join(dir, 'bad.yaml');
    fs.writeFileSync(cfg, 'min_seen: -3\n');
    const bad = cli(['status', '--config', cfg]);
    expect(bad.code).toBe(78);
    expect(bad.stderr).toMatch(/^sensorctl: .*bad\.yaml: invalid configuration: min_seen: must be >= 1\n$/);
    expect(cli(['completion']).stdout).toMatch(/sensorctl/);
    // Completing a value being typed (`sensorctl status --db <TAB>`) is not a missing value.
    const completing = cli(['--get-yargs-completions', 'sensorctl', 'status', '--db', '']);
    expect(completing.code).toBe(0);
    expect(completing.stdout).toMatch(/--help/);
  });

  test('an output file that cannot be created is refused up front with what to do, and nothing is written', () => {
    const db = makeSensorDb(path.join(dir, 'out.db'), ROWS);
    const missingDir = path.join(dir, 'no-such-dir');
    for (const args of [['backup', path.join(missingDir, 'b.db')], ['export-profiles', '-o', path.join(missingDir, 'x.jsonl')]]) {
      const r = cli([...args, '--db', db]);
      expect(r.code).toBe(74);
      expect(r.stderr).toMatch(new RegExp(`directory ${missingDir} does not exist \\(create it first\\)`));
    }
    const target = path.join(dir, 'a-directory');
    fs.mkdirSync(target);
    const intoDir = cli(['export-profiles', '-o', target, '--db', db]);
    expect(intoDir.code).toBe(64);
    expect(intoDir.stderr).toMatch(/is a directory; name the export file to write/);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  test('an output that would replace the database, one of its files, or a device is refused; symlinks are written through; - is stdout', () => {
    const db = makeSensorDb(path.join(dir, 's.db'), ROWS);
    const digest = fileDigest(db);
    fs.writeFileSync(`${db}.lock`, '999999999\n'); // a stale lock: a file of the database all the same
    fs.symlinkSync(db, path.join(dir, 'link.db'));
    fs.linkSync(db, path.join(dir, 'hard.db'));
    const refusals: [string[], RegExp][] = [
      [['export-profiles', '-o', db], /s\.db is the sensor database itself; name a new file for the export/],
      [['export-profiles', '-o', path.join(dir, 'link.db')], /link\.db is the sensor database itself/],
      [['export-profiles', '-o', path.join(dir, 'hard.db')], /hard\.db is the sensor database itself/],
      [['export-profiles', '-o', path.join(dir, 'sub', '..', 's.db')], /is the sensor database itself/],
      [['export-profiles', '-o', `${db}.lock`], /is the sensor database's lock file/],
      [['export-profiles', '-o', `${db}-wal`], /is the sensor database's wal file/],
      [['export-profiles', '-o', ''], /--output needs a value/],
      [['backup', path.join(dir, 'link.db'), '--force'], /link\.db is the sensor database itself; name a new file for the backup/],
      [['backup', path.join(dir, 'hard.db'), '--force'], /is the sensor database itself/],
      [['backup', '', '--force'], /the backup file name is empty/],
    ];
    fs.mkdirSync(path.join(dir, 'sub'));
    if (fs.existsSync('/dev/null')) refusals.push([['export-profiles', '-o', '/dev/null'], /\/dev\/null exists and is not a regular file .*write to standard output and redirect instead/]);
    fs.symlinkSync(path.join(dir, 'gone.jsonl'), path.join(dir, 'dangling.jsonl'));
    refusals.push([['export-profiles', '-o', path.join(dir, 'dangling.jsonl')], /is a symlink to a missing file/]);
    for (const [args, message] of refusals) {
      const r = cli([...args, '--db', db]);
      expect({ args, code: r.code }).toEqual({ args, code: 64 });
      expect(r.stderr).toMatch(message);
    }
    expect(fileDigest(db)).toBe(digest);
    expect(fs.lstatSync(path.join(dir, 'link.db')).isSymbolicLink()).toBe(true);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);
    // The database opened through the symlink is refused as an output too.
    expect(cli(['export-profiles', '--db', path.join(dir, 'link.db'), '-o', db]).stderr).toMatch(/is the sensor database itself/);

    // A symlink to an earlier export is written through: the link stays, its target gets the rows.
    const latest = path.join(dir, 'exports', 'latest.jsonl');
    fs.mkdirSync(path.dirname(latest));
    fs.writeFileSync(path.join(dir, 'exports', 'day1.jsonl'), 'old\n');
    fs.symlinkSync('day1.jsonl', latest);
    expect(cli(['export-profiles', '--db', db, '-o', latest]).code).toBe(0);
    expect(fs.lstatSync(latest).isSymbolicLink()).toBe(true);
    expect(fs.readFileSync(path.join(dir, 'exports', 'day1.jsonl'), 'utf8').trim().split('\n')).toHaveLength(3);

    // Another sensor's database: running (its lock held by a live process), its companion files, or
    // any SQLite file where an export was meant to go. A backup may replace a stopped one (--force),
    // and then a -wal left beside it must not be replayed into the new file.
    const other = makeSensorDb(path.join(dir, 'other.db'), [[A, 'x', 1, 1, T0]], 'other-sensor');
    fs.writeFileSync(`${other}.lock`, `${process.ppid}\n`);
    for (const args of [['export-profiles', '-o', other], ['backup', other, '--force']]) {
      const r = cli([...args, '--db', db]);
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(/other\.db is the database of a running sensord \(pid \d+\); stop it first/);
    }
    fs.rmSync(`${other}.lock`);
    fs.writeFileSync(`${other}-wal`, 'left behind');
    const intoWal = cli(['export-profiles', '-o', `${other}-wal`, '--db', db]);
    expect(intoWal.code).toBe(64);
    expect(intoWal.stderr).toMatch(/other\.db-wal belongs to the database .*other\.db; name a new file/);
    const intoDb = cli(['export-profiles', '-o', other, '--db', db]);
    expect(intoDb.code).toBe(64);
    expect(intoDb.stderr).toMatch(/other\.db is a SQLite database, not an earlier export; name a new file/);
    expect(cli(['backup', other, '--force', '--db', db]).code).toBe(0);
    expect(fs.existsSync(`${other}-wal`)).toBe(false);
    expect(exportRows(other)).toEqual(exportRows(db));

    // Replacing an earlier export keeps its permissions.
    const privateExport = path.join(dir, 'exports', 'private.jsonl');
    fs.writeFileSync(privateExport, 'old\n', { mode: 0o600 });
    fs.chmodSync(privateExport, 0o600);
    expect(cli(['export-profiles', '--db', db, '-o', privateExport]).code).toBe(0);
    expect(fs.statSync(privateExport).mode & 0o777).toBe(0o600);

    const stdout = cli(['export-profiles', '--db', db, '-o', '-']);
    expect(stdout.code).toBe(0);
    expect(stdout.stdout.trim().split('\n')).toHaveLength(3);
    expect(fs.existsSync(path.join(process.cwd(), '-'))).toBe(false);
  });

  test('an option given twice and a number out of range are usage errors (64) naming the option; nothing is changed', () => {
    const db = makeSensorDb(path.join(dir, 's.db'), ROWS);
    const digest = fileDigest(db);
    const jsonl = path.join(dir, 'rows.jsonl');
    fs.writeFileSync(jsonl, cli(['export-profiles', '--db', db]).stdout);
    const cases: [string[], RegExp][] = [
      [['status', '--db', db, '--db', db], /--db was given 2 times; give it once/],
      [['export-profiles', '--db', db, '-o', 'a', '-o', 'b'], /--output was given 2 times/],
      [['export-profiles', '--db', db, '--format', 'csv', '--format', 'jsonl'], /--format was given 2 times/],
      [['seed', db, '--db', db, '--wait', '1', '--wait', '2'], /--wait was given 2 times/],
      [['alerts', '--db', db, '--limit', '1.5'], /--limit must be a whole number from 0 to 10000000 alerts/],
      [['alerts', '--db', db, '--limit', '1e400'], /--limit must be a whole number/],
      [['alerts', '--db', db, '--limit', 'many'], /--limit must be a whole number/],
      [['profiles', '--db', db, '--top', '0'], /--top must be a whole number from 1 to 1000000/],
      [['profiles', '--db', db, '--top', '2.5'], /--top must be a whole number/],
      [['profiles', '--db', db, '--top', '1e400'], /--top must be a whole number/],
      [['import-profiles', jsonl, '--db', db, '--wait', 'abc'], /--wait must be a number from 0 to 86400 seconds/],
      [['import-profiles', jsonl, '--db', db, '--wait', '1e10'], /--wait must be a number/],
      [['import-profiles', jsonl, '--db', db, '--wait=-5'], /--wait must be a number/],
      [['import-profiles', jsonl, '--db', db, '--max-size=-1'], /--max-size must be a number above 0 and at most 1048576 MiB/],
      [['import-profiles', jsonl, '--db', db, '--max-size', '1e309'], /--max-size must be a number/],
      [['seed', jsonl, '--db', db, '--max-size', 'abc'], /--max-size must be a number/],
      // A value forgotten: at the end, before another option, or empty.
      [['alerts', '--db', db, '--limit'], /--limit needs a value/],
      [['alerts', '--db', db, '--limit', ''], /--limit needs a value/],
      [['alerts', '--db', db, '--limit='], /--limit needs a value/],
      [['import-profiles', jsonl, '--wait', '--db', db], /--wait needs a value/],
      [['import-profiles', jsonl, '--db', db, '--source-id'], /--source-id needs a value/],
      [['export-profiles', '--db', db, '-o'], /--output needs a value/],
    ];
    for (const [args, message] of cases) {
      const r = cli(args);
      expect({ args, code: r.code }).toEqual({ args, code: 64 });
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/unexpected|TypeError|    at /);
    }
    expect(fileDigest(db)).toBe(digest);
    expect(cli(['profiles', '--db', db, '--top', '1']).code).toBe(0);
    expect(cli(['alerts', '--db', db, '--limit', '0']).code).toBe(0);
  });

  test('fingerprint: an unknown method or a bad --ssh-window is a usage error (64); a missing key log exits 66', () => {
    const method = cli(['fingerprint', '--methods', 'ja4,foo', DEMO_PCAP]);
    expect(method.code).toBe(64);
    expect(method.stderr).toMatch(/unknown fingerprint method "foo"/);
    const none = cli(['fingerprint', '--methods', ',', DEMO_PCAP]);
    expect(none.code).toBe(64);
    expect(none.stderr).toMatch(/--methods names no method/);
    for (const w of ['0', '2.5', '-3']) {
      const r = cli(['fingerprint', `--ssh-window=${w}`, DEMO_PCAP]);
      expect(r.code).toBe(64);
      expect(r.stderr).toMatch(/--ssh-window must be a whole number of packets from 1/);
    }
    const keylog = cli(['fingerprint', '--keylog', path.join(dir, 'none.keys'), DEMO_PCAP]);
    expect(keylog.code).toBe(66);
    expect(keylog.stderr).toMatch(/cannot read key-log file .*none\.keys: no such file/);
    if (fs.existsSync('/dev/zero')) {
      const endless = cli(['fingerprint', '--keylog', '/dev/zero', DEMO_PCAP]);
      expect(endless.code).toBe(64);
      expect(endless.stderr).toMatch(/key-log file \/dev\/zero is not a regular file/);
    }
    const keylogDir = cli(['fingerprint', '--keylog', dir, DEMO_PCAP]);
    expect(keylogDir.code).toBe(64);
    expect(keylogDir.stderr).toMatch(/key-log file .* is a directory/);
    fs.writeFileSync(path.join(dir, 'junk.keys'), 'not a key log\n');
    const noSecrets = cli(['fingerprint', '--keylog', path.join(dir, 'junk.keys'), DEMO_PCAP]);
    expect(noSecrets.code).toBe(0);
    expect(noSecrets.stderr).toMatch(/^sensorctl: warning: key-log file .*junk\.keys holds no TLS secrets/);
    for (const command of [['fingerprint', ''], ['import-profiles', '', '--db', path.join(dir, 'i.db')]]) {
      const empty = cli(command);
      expect(empty.code).toBe(64);
      expect(empty.stderr).toMatch(/the file name is empty; name a file, or - for standard input/);
    }
    expect(cli(['fingerprint', '-'], { input: fs.readFileSync(DEMO_PCAP) }).stdout.trim().split('\n').length).toBeGreaterThan(100);
    expect(cli(['fingerprint', '--help']).stdout).toMatch(/Exit codes: 0 done; 2 capture missing/);
  });

  test('--db and --config defaults are the daemon\'s: SENSOR_DB, then the config db_path', () => {
    const db = makeSensorDb(path.join(dir, 'env.db'), ROWS);
    expect(cli(['export-profiles'], { env: { SENSOR_DB: db } }).stdout.trim().split('\n')).toHaveLength(3);
    const cfg = path.join(dir, 'c.yaml');
    fs.writeFileSync(cfg, `db_path: ${db}\n`);
    expect(cli(['export-profiles', '--config', cfg]).stdout.trim().split('\n')).toHaveLength(3);
  });

  test('an unexpected error is one line; --debug adds the stack', () => {
    const notDb = path.join(dir, 'junk.db');
    fs.writeFileSync(notDb, Buffer.alloc(8192, 7));
    const r = cli(['export-profiles', '--db', notDb]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const d = cli(['export-profiles', '--db', notDb, '--debug']);
    expect(d.stderr).toMatch(/\n\s+at /);
  });
});

test('status without a daemon: exit 0 with a readable database, a distinct code when there is nothing to report on', () => {
  const db = makeSensorDb(path.join(dir, 'sensor.db'), [['ja4>ja4t:x', 'y', 1, 1, T0]], 'status-test');
  expect(cli(['status', '--db', db]).code).toBe(0);
  const facts = json(cli(['status', '--db', db, '--json'])).database as { last_write_at: number; profile_rows: number };
  expect(facts.profile_rows).toBe(1);
  expect(Number.isInteger(facts.last_write_at)).toBe(true); // milliseconds, as every other time in the output
  const missing = cli(['status', '--db', path.join(dir, 'missing.db')]);
  expect(missing.code).toBe(66);
  expect(missing.stdout).toMatch(/database .*missing\.db does not exist/);
  const newer = path.join(dir, 'newer.db');
  fs.copyFileSync(db, newer);
  const conn = new Database(newer);
  conn.exec("INSERT INTO schema_version (version, name, applied_at) VALUES (99, 'from the future', 0)");
  conn.close();
  const tooNew = cli(['status', '--db', newer, '--json']);
  expect(tooNew.code).toBe(78);
  expect(json(tooNew).database).toMatchObject({ path: newer });
});

test('a sensord that holds the database but cannot be reached is said, not taken for "not running"', () => {
  const db = makeSensorDb(path.join(dir, 's.db'), ROWS);
  fs.writeFileSync(`${db}.lock`, `${process.ppid}\n`); // a live process holds the writer lock; no socket answers
  const status = cli(['status', '--db', db]);
  expect(status.stdout).toMatch(/^daemon\s+unreachable: sensord \(pid \d+\) holds the database but does not answer on its control socket/m);
  const exported = cli(['export-profiles', '--db', db]);
  expect(exported.code).toBe(0);
  expect(exported.stderr).toMatch(/^sensorctl: warning: sensord \(pid \d+\) holds .*s\.db but does not answer on its control socket .*as of its last flush$/m);
});

test('status --check finds a damaged page that the summary alone does not read; exit 74', () => {
  const file = makeSensorDb(path.join(dir, 'big.db'), ROWS);
  const pageSize = (() => {
    const db = new Database(file);
    try {
      db.pragma('journal_mode = DELETE'); // one self-contained file to damage
      // Alerts waiting for an MQTT broker: pages at the end of the file that the summary does not read.
      const put = db.prepare('INSERT INTO alert_outbox (created_at, severity, payload) VALUES (?, ?, ?)');
      db.transaction(() => { for (let i = 0; i < 500; i++) put.run(T0 + i, 'high', JSON.stringify({ n: i, pad: 'x'.repeat(200) })); })();
      return db.pragma('page_size', { simple: true }) as number;
    } finally {
      db.close();
    }
  })();
  expect(cli(['status', '--db', file, '--check']).stdout).toMatch(/^integrity\s+ok \(quick_check\)$/m);
  // Noise over a page near the end, as a bad flash block leaves.
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(64, 0x41), 0, 64, fs.statSync(file).size - 2 * pageSize);
  fs.closeSync(fd);
  const plain = cli(['status', '--db', file]);
  expect(plain.code).toBe(0);
  expect(plain.stdout).not.toMatch(/integrity/);
  const checked = cli(['status', '--db', file, '--check']);
  expect(checked.code).toBe(74);
  expect(checked.stdout).toMatch(/^integrity\s+DAMAGED: .+ sensord moves the file aside and restores the newest good snapshot at its next start$/m);
  const asJson = cli(['status', '--db', file, '--check', '--json']);
  expect(asJson.code).toBe(74);
  expect((json(asJson).database as { integrity: string }).integrity).not.toBe('ok');
});

test('status --check on a database too damaged to summarise still gives its integrity line and path', () => {
  const file = makeSensorDb(path.join(dir, 'bad.db'), ROWS);
  const db = new Database(file);
  db.pragma('journal_mode = DELETE');
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const root = (db.prepare("SELECT rootpage FROM sqlite_schema WHERE name = 'behavior_profiles'").get() as { rootpage: number }).rootpage;
  db.close();
  const fd = fs.openSync(file, 'r+');
  fs.writeSync(fd, Buffer.alloc(64, 0x41), 0, 64, (root - 1) * pageSize); // the profiles table's root page
  fs.closeSync(fd);
  const r = cli(['status', '--db', file, '--check']);
  expect(r.code).toBe(74);
  expect(r.stdout).toMatch(/^database\s+database .*bad\.db: /m);
  expect(r.stdout).toMatch(/^integrity\s+DAMAGED: /m);
});
