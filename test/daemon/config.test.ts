import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, DEFAULT_CONFIG, loadConfig, parseConfig, readBoundedFile, resolveDbPath, settlePairs } from '../../src/daemon/config.js';
import { checkMqttSettings } from '../../src/mqtt/config.js';

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'config-test-')); });
afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });

test('a pair listed twice is refused: it would count every observation twice', () => {
  const config = parseConfig('pairs:\n  - {anchor: ja4, companion: ja4t}\n  - {anchor: client_ip, companion: ja4}\n  - {anchor: ja4, companion: ja4t}\n', 'dup.yaml');
  expect(() => settlePairs(config)).toThrow(/^pair ja4 -> ja4t is listed twice in pairs; list each pair once$/);
});

test('settings files are read bounded: not a device, a FIFO or a directory, not beyond the limit', () => {
  const big = path.join(dir, 'big.yaml');
  fs.writeFileSync(big, `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
  expect(() => loadConfig(big)).toThrow(/big\.yaml is \d+ bytes, more than the 1048576 a config file may have/);
  if (fs.existsSync('/dev/zero')) expect(() => loadConfig('/dev/zero')).toThrow(/^config file \/dev\/zero is not a regular file$/);
  expect(() => loadConfig(dir)).toThrow(/is a directory/);
  expect(() => readBoundedFile(big, 100, 'key-log file')).toThrow(ConfigError);
  expect(readBoundedFile(big, 3 * 1024 * 1024, 'key-log file').length).toBeGreaterThan(2 * 1024 * 1024);
  expect(() => loadConfig(path.join(dir, 'none.yaml'))).toThrow(/^config file not found: /);
});

test('an empty SENSOR_DB is no setting', () => {
  const saved = process.env.SENSOR_DB;
  try {
    process.env.SENSOR_DB = '';
    expect(resolveDbPath(undefined, DEFAULT_CONFIG)).toBe(DEFAULT_CONFIG.db_path);
    process.env.SENSOR_DB = '/x/s.db';
    expect(resolveDbPath(undefined, DEFAULT_CONFIG)).toBe('/x/s.db');
    expect(resolveDbPath('/y.db', DEFAULT_CONFIG)).toBe('/y.db');
  } finally {
    if (saved === undefined) delete process.env.SENSOR_DB;
    else process.env.SENSOR_DB = saved;
  }
});

test('a setting given twice is refused in JSON as in YAML, at any depth; unique keys still load', () => {
  expect(() => parseConfig('{"min_seen": 5, "min_seen": 500}', 'dup.json')).toThrow(/^dup\.json: not valid JSON: Map keys must be unique at line 1, column 17/);
  expect(() => parseConfig('{"mqtt": {"url": "mqtt://a", "url": "mqtt://b"}}', 'deep.json')).toThrow(/deep\.json: not valid JSON: Map keys must be unique/);
  expect(() => parseConfig('min_seen: 5\nmin_seen: 500\n', 'dup.yaml')).toThrow(/^dup\.yaml: not valid YAML: Map keys must be unique/);
  expect(parseConfig('{"min_seen": 7, "pairs": [{"anchor": "ja4", "companion": "ja4t"}]}', 'ok.json').min_seen).toBe(7);
  expect(() => parseConfig('{"min_seen": 7,}', 'bad.json')).toThrow(/^bad\.json: not valid JSON: /);
});

test('a maximum flush interval below the flush interval is refused; a flush interval past the default maximum raises it', () => {
  expect(() => parseConfig('flush_interval: 30\nmax_flush_interval: 1\n', 'c.yaml')).toThrow(/max_flush_interval \(1 s\) is shorter than flush_interval \(30 s\)/);
  expect(() => parseConfig('max_flush_interval: 10\n', 'c.yaml')).toThrow(/max_flush_interval \(10 s\) is shorter than flush_interval \(30 s\)/);
  expect(parseConfig('flush_interval: 900\n', 'c.yaml').max_flush_interval).toBe(900);
  expect(parseConfig('flush_interval: 60\nmax_flush_interval: 60\n', 'c.yaml').max_flush_interval).toBe(60);
});

test('a broker URL of the wrong scheme is one sentence, not a list of schema branches', () => {
  let message = '';
  try {
    const config = parseConfig('mqtt:\n  url: "ftp://x"\n', 'm.yaml');
    checkMqttSettings(config.mqtt, 's');
  } catch (err) {
    message = (err as Error).message;
  }
  expect(message).toBe("config mqtt.url: 'ftp://x' must be mqtt://, mqtts://, ws:// or wss:// followed by host[:port]");
});
