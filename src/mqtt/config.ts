/**
 * The config file's `mqtt` section (snake_case, times in seconds as elsewhere in the config): its
 * JSON schema (for ajv), defaults, and the step that turns it
 * into a resolved publisher config (or null: MQTT is off when no broker URL is configured).
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { Ajv } from 'ajv';
import { clientIdForSensor, defaultTopicPrefix, isValidTopicPrefix } from './topics.js';

/** The `mqtt` section as written in the config file. Every key is optional. */
export interface MqttConfigSection {
  /** mqtt://, mqtts://, ws:// or wss://. Absent or empty: MQTT is off. */
  url?: string | null;
  username?: string;
  password?: string;
  /** Read the password from this file instead (first line), so the config file can stay world-readable. */
  password_file?: string;
  /** PEM file paths: CA to trust, and a client certificate + key for certificate authentication. */
  ca?: string;
  cert?: string;
  key?: string;
  /** Verify the broker's certificate (default true; turning it off is for lab use only). */
  reject_unauthorized?: boolean;
  /** Default: derived from the sensor id. */
  client_id?: string;
  /** Default: `sensor/<sensor_id>`. */
  topic_prefix?: string;
  keepalive_seconds?: number;
  connect_timeout_seconds?: number;
  reconnect?: { min_seconds?: number; max_seconds?: number };
  /** After the broker rejects the credentials or the TLS identity, wait this long before trying again. */
  auth_retry_seconds?: number;
  /** Alerts published but not yet acknowledged (PUBACK) at any one time. */
  max_inflight?: number;
  outbox?: { max_rows?: number; max_days?: number };
  homeassistant?: { enabled?: boolean; discovery_prefix?: string };
}

export const MQTT_DEFAULTS = {
  keepalive_seconds: 30,
  connect_timeout_seconds: 10,
  reconnect: { min_seconds: 1, max_seconds: 60 },
  auth_retry_seconds: 300,
  reject_unauthorized: true,
  max_inflight: 16,
  outbox: { max_rows: 10_000, max_days: 7 },
  homeassistant: { enabled: false, discovery_prefix: 'homeassistant' },
} as const;

// Bounded: YAML's .inf passes as a number, and timers beyond 2^31-1 ms fire after 1 ms.
const positive = { type: 'number', exclusiveMinimum: 0, maximum: 86_400 } as const;

/** JSON schema of the `mqtt` section; the daemon's config schema embeds it as `properties.mqtt`. */
export const mqttConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    // Its form is checked by checkBrokerUrl (one sentence naming the schemes), not by three
    // anyOf branches each reporting its own failure.
    url: { type: ['string', 'null'] },
    // MQTT strings are at most 65535 bytes on the wire; longer ones crashed the client library.
    username: { type: 'string', maxLength: 4096 },
    password: { type: 'string', maxLength: 4096 },
    password_file: { type: 'string', minLength: 1 },
    ca: { type: 'string', minLength: 1 },
    cert: { type: 'string', minLength: 1 },
    key: { type: 'string', minLength: 1 },
    reject_unauthorized: { type: 'boolean' },
    client_id: { type: 'string', minLength: 1, maxLength: 256 },
    topic_prefix: { type: 'string', minLength: 1, maxLength: 1024 },
    keepalive_seconds: { type: 'integer', minimum: 0, maximum: 65535 },
    connect_timeout_seconds: positive,
    reconnect: {
      type: 'object',
      additionalProperties: false,
      properties: { min_seconds: positive, max_seconds: positive },
    },
    auth_retry_seconds: positive,
    max_inflight: { type: 'integer', minimum: 1, maximum: 1000 },
    outbox: {
      type: 'object',
      additionalProperties: false,
      properties: {
        max_rows: { type: 'integer', minimum: 1 },
        max_days: { type: 'number', exclusiveMinimum: 0, maximum: 3650 },
      },
    },
    homeassistant: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        discovery_prefix: { type: 'string', minLength: 1 },
      },
    },
  },
  dependencies: { cert: ['key'], key: ['cert'] },
} as const;

/** Everything the publisher needs, in milliseconds, with defaults applied. */
export interface MqttConfig {
  url: string;
  username?: string;
  password?: string;
  passwordFile?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  rejectUnauthorized: boolean;
  clientId: string;
  topicPrefix: string;
  keepaliveS: number;
  connectTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  authRetryMs: number;
  maxInflight: number;
  outboxMaxRows: number;
  outboxMaxAgeMs: number;
  homeAssistant: { enabled: boolean; discoveryPrefix: string };
}

export class MqttConfigError extends Error {
  override name = 'MqttConfigError';
}

let validator: ((data: unknown) => boolean) & { errors?: unknown } | undefined;

/** A broker URL the client can connect to, or MqttConfigError saying what is wrong with it. */
function checkBrokerUrl(url: string): void {
  const bad = (why: string) => new MqttConfigError(`config mqtt.url: '${url.slice(0, 200)}' ${why}`);
  if (!/^(mqtts?|wss?):\/\/\S+$/.test(url)) throw bad('must be mqtt://, mqtts://, ws:// or wss:// followed by host[:port]');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw bad('is not a valid URL (host, then an optional :port from 1 to 65535)');
  }
  if (u.hostname === '') throw bad('names no host');
  if (u.port === '0') throw bad('has port 0; use a port from 1 to 65535');
  try {
    decodeURIComponent(u.hostname);
    decodeURIComponent(u.username);
    decodeURIComponent(u.password);
  } catch {
    throw bad('has a malformed %-escape');
  }
}

/** Checks a raw `mqtt` section against the schema; throws MqttConfigError with ajv's first complaint. */
export function validateMqttSection(section: unknown): asserts section is MqttConfigSection {
  const url = (section as MqttConfigSection | null)?.url;
  if (typeof url === 'string' && url !== '') checkBrokerUrl(url);
  if (!validator) validator = new Ajv({ allErrors: false }).compile(mqttConfigSchema);
  if (!validator(section)) {
    const errs = validator.errors as { instancePath: string; message?: string }[] | undefined;
    const first = errs?.[0];
    const where = first?.instancePath ? `mqtt${first.instancePath.replace(/\//g, '.')}` : 'mqtt';
    throw new MqttConfigError(`config ${where}: ${first?.message ?? 'invalid'}`);
  }
}

/**
 * Applies defaults and the `--mqtt-url` override. Returns null when MQTT is off (no URL anywhere).
 * `urlOverride` wins over the file; an empty override turns MQTT off.
 */
export function resolveMqttConfig(
  section: MqttConfigSection | undefined | null,
  opts: { sensorId: string; urlOverride?: string },
): MqttConfig | null {
  const raw: MqttConfigSection = { ...(section ?? {}) };
  if (opts.urlOverride !== undefined) raw.url = opts.urlOverride;
  validateMqttSection(raw);
  if (!raw.url) return null;

  const topicPrefix = raw.topic_prefix ?? defaultTopicPrefix(opts.sensorId);
  if (!isValidTopicPrefix(topicPrefix)) {
    throw new MqttConfigError(
      `config mqtt.topic_prefix: '${topicPrefix}' must not contain '+', '#' or empty levels, nor end in '/'`,
    );
  }
  if (raw.password !== undefined && raw.password_file !== undefined) {
    throw new MqttConfigError('config mqtt: set either password or password_file, not both');
  }
  const minMs = (raw.reconnect?.min_seconds ?? MQTT_DEFAULTS.reconnect.min_seconds) * 1000;
  const maxMs = (raw.reconnect?.max_seconds ?? MQTT_DEFAULTS.reconnect.max_seconds) * 1000;
  if (maxMs < minMs) {
    throw new MqttConfigError('config mqtt.reconnect: max_seconds must be at least min_seconds');
  }
  return {
    url: raw.url,
    username: raw.username,
    password: raw.password,
    passwordFile: raw.password_file,
    caFile: raw.ca,
    certFile: raw.cert,
    keyFile: raw.key,
    rejectUnauthorized: raw.reject_unauthorized ?? MQTT_DEFAULTS.reject_unauthorized,
    clientId: raw.client_id ?? clientIdForSensor(opts.sensorId),
    topicPrefix,
    keepaliveS: raw.keepalive_seconds ?? MQTT_DEFAULTS.keepalive_seconds,
    connectTimeoutMs: (raw.connect_timeout_seconds ?? MQTT_DEFAULTS.connect_timeout_seconds) * 1000,
    reconnectMinMs: minMs,
    reconnectMaxMs: maxMs,
    authRetryMs: (raw.auth_retry_seconds ?? MQTT_DEFAULTS.auth_retry_seconds) * 1000,
    maxInflight: raw.max_inflight ?? MQTT_DEFAULTS.max_inflight,
    outboxMaxRows: raw.outbox?.max_rows ?? MQTT_DEFAULTS.outbox.max_rows,
    outboxMaxAgeMs: (raw.outbox?.max_days ?? MQTT_DEFAULTS.outbox.max_days) * 86_400_000,
    homeAssistant: {
      enabled: raw.homeassistant?.enabled ?? MQTT_DEFAULTS.homeassistant.enabled,
      discoveryPrefix: raw.homeassistant?.discovery_prefix ?? MQTT_DEFAULTS.homeassistant.discovery_prefix,
    },
  };
}

/**
 * Everything start-up would find wrong with the MQTT settings, found before the database is
 * opened: the section (as resolveMqttConfig checks it) and the files it names (CA, certificate,
 * key, password file), which must be readable regular files.
 */
export function checkMqttSettings(section: MqttConfigSection | undefined | null, sensorId: string): void {
  const cfg = resolveMqttConfig(section, { sensorId });
  if (cfg === null) return;
  const files: [string, string | undefined][] = [['mqtt.ca', cfg.caFile], ['mqtt.cert', cfg.certFile], ['mqtt.key', cfg.keyFile], ['mqtt.password_file', cfg.passwordFile]];
  for (const [key, file] of files) {
    if (file === undefined) continue;
    const st = fs.statSync(file, { throwIfNoEntry: false });
    if (!st) throw new MqttConfigError(`config ${key}: ${file} does not exist`);
    if (!st.isFile()) throw new MqttConfigError(`config ${key}: ${file} is not a regular file`);
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch {
      throw new MqttConfigError(`config ${key}: cannot read ${file} (permission denied)`);
    }
  }
  checkTlsFiles(cfg.caFile, cfg.certFile, cfg.keyFile);
}

/** PEM files are a few KB; anything this large is not one. */
const MAX_PEM_BYTES = 1024 * 1024;

function readPem(key: string, file: string): string {
  if (fs.statSync(file).size > MAX_PEM_BYTES) throw new MqttConfigError(`config ${key}: ${file} is larger than 1 MiB; not a PEM file`);
  return fs.readFileSync(file, 'latin1');
}

/**
 * The TLS files parse and belong together. The MQTT client would otherwise throw inside its
 * constructor (a key that does not match the certificate, an encrypted key) and take sensord down
 * with a stack trace, or ignore a CA file that holds no certificate and fail later as "self-signed".
 */
function checkTlsFiles(caFile: string | undefined, certFile: string | undefined, keyFile: string | undefined): void {
  if (caFile !== undefined) {
    const pem = readPem('mqtt.ca', caFile);
    const blocks = pem.split('-----BEGIN CERTIFICATE-----').slice(1);
    if (blocks.length === 0) throw new MqttConfigError(`config mqtt.ca: ${caFile} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    for (const block of blocks) {
      try {
        new X509Certificate(`-----BEGIN CERTIFICATE-----${block}`);
      } catch {
        throw new MqttConfigError(`config mqtt.ca: ${caFile} holds a certificate that cannot be parsed`);
      }
    }
  }
  if (certFile === undefined || keyFile === undefined) return;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readPem('mqtt.cert', certFile));
  } catch (err) {
    if (err instanceof MqttConfigError) throw err;
    throw new MqttConfigError(`config mqtt.cert: ${certFile} is not a PEM certificate`);
  }
  const keyPem = readPem('mqtt.key', keyFile);
  // PKCS#8 "ENCRYPTED PRIVATE KEY", or a traditional key with "Proc-Type: 4,ENCRYPTED".
  if (keyPem.includes('ENCRYPTED')) {
    throw new MqttConfigError(`config mqtt.key: ${keyFile} is encrypted; the sensor needs an unencrypted key (openssl pkey -in KEY -out PLAIN), readable by its user only`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    throw new MqttConfigError(`config mqtt.key: ${keyFile} is not a PEM private key`);
  }
  if (!cert.checkPrivateKey(key)) throw new MqttConfigError(`config mqtt.key: ${keyFile} is not the key of the certificate in mqtt.cert (${certFile})`);
}
