/**
 * The sensor's configuration: a JSON or YAML file, validated against a schema with messages that
 * name the offending key, merged over defaults that work without any file.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse as parseYaml, parseDocument } from 'yaml';
import { DEFAULT_PAIRS, type ProfilePair } from '../anomaly/profiler.js';
import { ALL_METHODS, type FingerprintType } from '../fingerprint/record.js';
import { healthConfigSchema } from '../health/index.js';
import { mqttConfigSchema, type MqttConfigSection } from '../mqtt/index.js';

export const DEFAULT_CONFIG_PATH = '/etc/sensor/sensor.yaml';
export const DEFAULT_DB_PATH = '/var/lib/sensor/sensor.db';

/** Fields a profile pair can name: any fingerprint type, or a property of the connection. */
export const PAIR_FIELDS: readonly string[] = [...ALL_METHODS, 'client_ip', 'server_ip', 'server', 'server_port'];

export interface SensorConfig {
  sensor_id: string | null;
  db_path: string;
  interface: string | null;
  capture_filter: string;
  tcpdump_path: string | null;
  keylog: string | null;
  methods: FingerprintType[];
  pairs: ProfilePair[];
  min_seen: number;
  rare_fraction: number;
  alert_window_seconds: number;
  flush_interval: number;
  max_flush_interval: number;
  write_budget_mb_per_day: number;
  status_interval: number;
  ssh_window_packets: number;
  caps: {
    max_flows: number;
    max_anchors: number;
    max_companions_per_anchor: number;
    /** MiB that protocol parsers may hold between packets over all flows (see fingerprint/parser-memory.ts). */
    max_parser_mb: number;
  };
  flows: {
    tcp_idle_seconds: number;
    udp_idle_seconds: number;
  };
  alerts: {
    max_rows: number;
    max_days: number;
  };
  snapshots: {
    keep: number;
    interval_hours: number;
  };
  control_socket: string | null;
  /** A USB stick with a sensor-export/ folder gets a fresh backup (the only time it is mounted rw). */
  usb_export: boolean;
  mqtt: MqttConfigSection;
  health: {
    interval_seconds: number;
  };
}

export const DEFAULT_CONFIG: SensorConfig = {
  sensor_id: null,
  db_path: DEFAULT_DB_PATH,
  interface: null,
  capture_filter: '',
  tcpdump_path: null,
  keylog: null,
  methods: [...ALL_METHODS],
  pairs: DEFAULT_PAIRS.map((p) => ({ ...p })),
  min_seen: 50,
  rare_fraction: 0.01,
  alert_window_seconds: 3600,
  flush_interval: 30,
  max_flush_interval: 600,
  write_budget_mb_per_day: 64,
  status_interval: 60,
  ssh_window_packets: 200,
  caps: { max_flows: 20000, max_anchors: 200000, max_companions_per_anchor: 64, max_parser_mb: 32 },
  flows: { tcp_idle_seconds: 300, udp_idle_seconds: 60 },
  alerts: { max_rows: 100000, max_days: 90 },
  snapshots: { keep: 3, interval_hours: 24 },
  control_socket: null,
  usb_export: false,
  mqtt: {},
  health: { interval_seconds: 60 },
};

// Every number has an upper bound: YAML's .inf or 1e400 would otherwise pass as a number, and
// node's timers turn a delay beyond 2^31-1 ms (24.8 days) into 1 ms (a flush loop).
const DAY_S = 86_400;
const seconds = (max: number) => ({ type: 'number', exclusiveMinimum: 0, maximum: max }) as const;
const positiveInt = (max: number) => ({ type: 'integer', minimum: 1, maximum: max }) as const;

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sensor_id: { type: ['string', 'null'], pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$' },
    db_path: { type: 'string', minLength: 1 },
    interface: { type: ['string', 'null'], minLength: 1 },
    capture_filter: { type: 'string' },
    tcpdump_path: { type: ['string', 'null'], minLength: 1 },
    keylog: { type: ['string', 'null'], minLength: 1 },
    methods: { type: 'array', uniqueItems: true, minItems: 1, items: { enum: [...ALL_METHODS] } },
    pairs: {
      type: 'array',
      maxItems: 30,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['anchor', 'companion'],
        properties: { anchor: { enum: PAIR_FIELDS }, companion: { enum: PAIR_FIELDS } },
      },
    },
    min_seen: positiveInt(1e9),
    rare_fraction: { type: 'number', minimum: 0, maximum: 1 },
    alert_window_seconds: { type: 'number', minimum: 0, maximum: 365 * DAY_S },
    flush_interval: { ...seconds(DAY_S), minimum: 0.01 }, // 10 ms: below that it is a typo, not a setting
    max_flush_interval: seconds(DAY_S),
    write_budget_mb_per_day: { type: 'number', minimum: 0, maximum: 1e7 },
    status_interval: seconds(DAY_S),
    ssh_window_packets: positiveInt(1e6),
    caps: {
      type: 'object',
      additionalProperties: false,
      properties: { max_flows: positiveInt(1e7), max_anchors: positiveInt(1e8), max_companions_per_anchor: positiveInt(1e6), max_parser_mb: positiveInt(65536) },
    },
    flows: {
      type: 'object',
      additionalProperties: false,
      properties: { tcp_idle_seconds: seconds(7 * DAY_S), udp_idle_seconds: seconds(7 * DAY_S) },
    },
    alerts: {
      type: 'object',
      additionalProperties: false,
      properties: { max_rows: positiveInt(1e8), max_days: seconds(36_500) },
    },
    snapshots: {
      type: 'object',
      additionalProperties: false,
      properties: { keep: { type: 'integer', minimum: 0, maximum: 1000 }, interval_hours: seconds(24 * 365) },
    },
    control_socket: { type: ['string', 'null'], minLength: 1 },
    usb_export: { type: 'boolean' },
    mqtt: mqttConfigSchema,
    health: healthConfigSchema,
  },
} as const;

const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/**
 * JSON.parse keeps the last of two equal keys without a word, so a setting given twice would
 * silently lose its first value; YAML refuses that, and JSON text is YAML, so its parser finds them.
 */
function refuseDuplicateKeys(json: string): void {
  const duplicate = parseDocument(json, { uniqueKeys: true }).errors.find((e) => e.code === 'DUPLICATE_KEY');
  if (duplicate) throw new Error(duplicate.message);
}

/** Parses and validates config text; `source` names the file in messages. */
export function parseConfig(text: string, source: string): SensorConfig {
  let raw: unknown;
  try {
    if (source.endsWith('.json')) {
      raw = JSON.parse(text);
      refuseDuplicateKeys(text);
    } else {
      raw = parseYaml(text);
    }
  } catch (err) {
    throw new ConfigError(`${source}: not valid ${source.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`${source}: the top level must be a mapping of settings`);
  if (!validate(raw)) {
    const problems = (validate.errors ?? []).map((e) => {
      const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(top level)';
      if (e.keyword === 'additionalProperties') return `${where}: unknown setting "${String(e.params.additionalProperty)}"`;
      if (e.keyword === 'enum') return `${where}: must be one of ${(e.params.allowedValues as unknown[]).join(', ')}`;
      return `${where}: ${e.message}`;
    });
    throw new ConfigError(`${source}: invalid configuration:\n  ${[...new Set(problems)].join('\n  ')}`);
  }
  return mergeConfig(DEFAULT_CONFIG, raw as Partial<SensorConfig>);
}

function mergeConfig(base: SensorConfig, over: Partial<SensorConfig>): SensorConfig {
  const out = { ...base, ...over } as SensorConfig;
  out.caps = { ...base.caps, ...over.caps };
  out.flows = { ...base.flows, ...over.flows };
  out.alerts = { ...base.alerts, ...over.alerts };
  out.snapshots = { ...base.snapshots, ...over.snapshots };
  out.health = { ...base.health, ...over.health };
  out.mqtt = { ...base.mqtt, ...over.mqtt };
  if (over.max_flush_interval !== undefined && out.max_flush_interval < out.flush_interval) {
    throw new ConfigError(`max_flush_interval (${out.max_flush_interval} s) is shorter than flush_interval (${out.flush_interval} s): ` +
      'the write budget only ever stretches the interval, so give it at least the flush interval');
  }
  // Only flush_interval given, past the default maximum: the maximum follows it.
  if (out.max_flush_interval < out.flush_interval) out.max_flush_interval = out.flush_interval;
  return out;
}

/**
 * Settles the profile pairs against the methods that run (after any --methods override). A pair
 * the sensor can never observe (a method that is off, or a field paired with itself) is a mistake
 * in a pair list the user wrote: refused, naming it. From the default list it is dropped, so that
 * `methods: [ja4]` alone still works. Returns what to log.
 */
export function settlePairs(config: SensorConfig): string[] {
  const running = new Set<string>(config.methods);
  const why = (p: ProfilePair): string | null => {
    if (p.anchor === p.companion) return `pairs ${p.anchor} with itself`;
    const off = [p.anchor, p.companion].filter((f) => (ALL_METHODS as readonly string[]).includes(f) && !running.has(f));
    return off.length ? `needs ${off.join(' and ')}, which ${off.length > 1 ? 'are' : 'is'} not in methods (${config.methods.join(', ') || 'none'})` : null;
  };
  const isDefault = JSON.stringify(config.pairs) === JSON.stringify(DEFAULT_PAIRS);
  const notes: string[] = [];
  const kept: ProfilePair[] = [];
  const seen = new Set<string>();
  for (const p of config.pairs) {
    // Listed twice, a pair would count every observation twice.
    const key = `${p.anchor}>${p.companion}`;
    if (seen.has(key)) throw new ConfigError(`pair ${p.anchor} -> ${p.companion} is listed twice in pairs; list each pair once`);
    seen.add(key);
    const problem = why(p);
    if (problem === null) kept.push(p);
    else if (isDefault) notes.push(`default pair ${p.anchor} -> ${p.companion} left out: it ${problem}`);
    else throw new ConfigError(`pair ${p.anchor} -> ${p.companion} can never be profiled: it ${problem}`);
  }
  config.pairs = kept;
  if (kept.length === 0 && isDefault) notes.push('no profile pair can be observed with these methods: fingerprints only, no profiles or alerts');
  return notes;
}

/**
 * Loads the config: an explicit path must exist; without one, SENSOR_CONFIG or the system file is
 * used when present, else the defaults.
 */
export function loadConfig(path?: string): { config: SensorConfig; source: string | null } {
  let file = path ?? process.env.SENSOR_CONFIG;
  if (file === undefined || file === '') {
    if (!existsSync(DEFAULT_CONFIG_PATH)) return { config: mergeConfig(DEFAULT_CONFIG, {}), source: null };
    file = DEFAULT_CONFIG_PATH;
  }
  let text: string;
  try {
    text = readBoundedText(file, MAX_CONFIG_BYTES, 'config file');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConfigError(`config file not found: ${file}`);
    if (code === 'EACCES') throw new ConfigError(`permission denied reading config file ${file}`);
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  return { config: parseConfig(text, file), source: file };
}

/** A key log holds a few hundred bytes per TLS session: this is millions of them. */
export const MAX_KEYLOG_BYTES = 64 * 1024 * 1024;

/** A config is a few KiB; anything near this is not one (and /dev/zero must not fill memory). */
const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Reads a small settings file (config, key log): a regular file (a FIFO without a writer would
 * block start-up, a device could be endless) of at most `maxBytes`.
 */
export function readBoundedText(file: string, maxBytes: number, what: string): string {
  return readBoundedFile(file, maxBytes, what).toString('utf8');
}

export function readBoundedFile(file: string, maxBytes: number, what: string): Buffer {
  const st = statSync(file); // ENOENT/EACCES reach the caller as they are
  if (st.isDirectory()) throw new ConfigError(`${what} ${file} is a directory`);
  if (!st.isFile()) throw new ConfigError(`${what} ${file} is not a regular file`);
  if (st.size > maxBytes) throw new ConfigError(`${what} ${file} is ${st.size} bytes, more than the ${maxBytes} a ${what} may have`);
  const buf = readFileSync(file);
  if (buf.length > maxBytes) throw new ConfigError(`${what} ${file} grew past ${maxBytes} bytes while it was read`);
  return buf;
}

/** The DB path every tool uses: --db, then SENSOR_DB, then the config's db_path. */
export function resolveDbPath(cliDb: string | undefined, config: SensorConfig): string {
  // An empty SENSOR_DB (`SENSOR_DB= sensorctl ...`, an unset variable in a unit) is no setting.
  return cliDb ?? (process.env.SENSOR_DB || undefined) ?? config.db_path;
}
