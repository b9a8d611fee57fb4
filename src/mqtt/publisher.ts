/**
 * MqttPublisher: the sensor's one connection to its owner's broker.
 *
 * Alerts go through the durable outbox (outbox.ts) and leave it only on the broker's PUBACK. Each
 * connection attempt uses a fresh mqtt.js client with its own reconnect switched off: this class owns
 * reconnecting (capped exponential backoff with jitter) and resending (alerts in flight when a
 * connection dropped are sent again first, in order), so nothing depends on mqtt.js's in-memory store.
 */
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Database } from 'better-sqlite3';
import type { AlertRecord } from '../anomaly/alert.js';
import { silentLogger, type Logger } from '../storage/db.js';
import { reconnectDelay } from './backoff.js';
import { MqttConfigError, type MqttConfig } from './config.js';
import { discoveryMessages } from './discovery.js';
import { AlertOutbox, type OutboxCounters, type OutboxEntry } from './outbox.js';
import { topicsFor, type SensorTopics } from './topics.js';

export type PublisherState =
  | 'idle' // constructed, start() not called
  | 'connecting'
  | 'online'
  | 'waiting' // disconnected, next attempt scheduled
  | 'auth_failed' // the broker refused our identity; next attempt after auth_retry_s
  | 'stopped';

export interface MqttPublisherOptions {
  config: MqttConfig;
  sensorId: string;
  /** The sensor's SQLite database; it must have the alert_outbox table. */
  db: Database;
  /** The daemon's logger (src/daemon/logger.ts); silent by default. */
  log?: Logger;
  /**
   * How often the publisher writes its outbox on its own. 0: never; the daemon then calls flush()
   * from its wear-aware storage flush, so both land in the same write. Default 30 000 ms.
   */
  flushIntervalMs?: number;
  /** Software version for Home Assistant's device card. */
  version?: string;
  /** For tests: the jitter source. */
  random?: () => number;
}

export interface PublisherStatus {
  state: PublisherState;
  url: string;
  clientId: string;
  topicPrefix: string;
  lastError: string | null;
  /** 5, or 4 (3.1.1) after the broker refused 5. */
  protocolVersion: 4 | 5;
  inflight: number;
  alertsPublished: number;
  reconnects: number;
  outbox: OutboxCounters;
}

/** Per-interval figures the daemon passes to publishStats(); any extra fields are published too. */
export interface SensorStats {
  interval_seconds: number;
  packets: number;
  flows: number;
  fingerprints: number;
  alerts: number;
  flash_bytes_written: number;
  [extra: string]: unknown;
}

const STABLE_CONNECTION_MS = 30_000;

const AUTH_REFUSALS: Record<number, string> = {
  2: 'client identifier rejected',
  4: 'bad username or password',
  5: 'not authorized',
  133: 'client identifier not valid',
  134: 'bad username or password',
  135: 'not authorized',
  138: 'banned',
};

export class MqttPublisher extends EventEmitter {
  readonly topics: SensorTopics;
  private readonly config: MqttConfig;
  private readonly sensorId: string;
  private readonly log: Logger;
  private readonly outbox: AlertOutbox;
  private readonly flushIntervalMs: number;
  private readonly version?: string;
  private readonly random: () => number;
  private readonly safeUrl: string;

  private state: PublisherState = 'idle';
  private client: MqttClient | null = null;
  /** Bumped per connection attempt; callbacks from an older connection are ignored. */
  private generation = 0;
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private flushTimer: NodeJS.Timeout | null = null;
  private pumpScheduled = false;
  private stopping = false;
  private connectionError: string | null = null;
  private lastError: string | null = null;
  private lastLogged: string | null = null;
  private authFailed = false;
  private everConnected = false;
  private connectedAt = 0;
  /**
   * MQTT 5 first: its PUBACK says when the broker's ACL refuses a publish, which MQTT 3.1.1 cannot
   * (the broker acknowledges and drops it). A broker that does not speak 5 gets 3.1.1.
   */
  private protocolVersion: 4 | 5 = 5;
  private retryWithOlderProtocol = false;
  /** In-flight alerts the broker refused (PUBACK reason code >= 0x80), sent again after a delay. */
  private readonly refused = new Set<OutboxEntry>();
  private refusedTimer: NodeJS.Timeout | null = null;
  private refusedAttempt = 0;
  private refusal: string | null = null;

  /** Alerts handed out by the outbox and not yet acknowledged, in publish order. */
  private inflight: OutboxEntry[] = [];
  private lastHealth: string | null = null;
  private alertsPublished = 0;
  private alertsPublishedReported = 0;
  private droppedReported = 0;
  private reconnects = 0;
  private tlsOptions: Pick<IClientOptions, 'ca' | 'cert' | 'key'> = {};
  private password: string | undefined;

  constructor(opts: MqttPublisherOptions) {
    super();
    this.config = opts.config;
    this.sensorId = opts.sensorId;
    this.log = opts.log ?? silentLogger;
    this.flushIntervalMs = opts.flushIntervalMs ?? 30_000;
    this.version = opts.version;
    this.random = opts.random ?? Math.random;
    this.topics = topicsFor(opts.config.topicPrefix);
    this.safeUrl = redactUrl(opts.config.url);
    this.outbox = new AlertOutbox(opts.db, {
      maxRows: opts.config.outboxMaxRows,
      maxAgeMs: opts.config.outboxMaxAgeMs,
    });
  }

  /**
   * Reads the credential files and starts connecting in the background; returns at once (the broker
   * may well be down). Throws MqttConfigError when a configured file cannot be read.
   */
  start(): void {
    if (this.state !== 'idle') return;
    this.password = this.config.passwordFile
      ? readConfigFile('mqtt.password_file', this.config.passwordFile).split(/\r?\n/)[0]
      : this.config.password;
    this.tlsOptions = {
      ...(this.config.caFile ? { ca: readConfigFile('mqtt.ca', this.config.caFile) } : {}),
      ...(this.config.certFile ? { cert: readConfigFile('mqtt.cert', this.config.certFile) } : {}),
      ...(this.config.keyFile ? { key: readConfigFile('mqtt.key', this.config.keyFile) } : {}),
    };
    if (this.flushIntervalMs > 0) {
      this.flushTimer = setInterval(() => this.flush(), this.flushIntervalMs);
      this.flushTimer.unref();
    }
    this.connect();
  }

  /** Queues an alert for delivery; its JSON is stored and published exactly as serialised here. */
  enqueue(alert: AlertRecord): void {
    const payload = JSON.stringify(alert);
    try {
      this.outbox.add(payload, String(alert.alert?.severity ?? 'unknown'));
    } catch (err) {
      this.log('error', `mqtt: could not write the alert outbox (${errorText(err)}); alert kept in memory only`);
    }
    this.schedulePump();
  }

  /** Publishes a health sample, retained; the latest one is re-published after a reconnect. */
  publishHealth(sample: object): void {
    this.lastHealth = JSON.stringify({ sensor_id: this.sensorId, ...sample });
    if (this.state === 'online' && !this.stopping) this.client!.publish(this.topics.health, this.lastHealth, { qos: 0, retain: true });
  }

  /** Publishes per-interval statistics plus the publisher's own (outbox, drops); dropped while offline. */
  publishStats(stats: SensorStats): void {
    if (this.state !== 'online') return;
    const ob = this.outbox.counters();
    const payload = JSON.stringify({
      timestamp: new Date().toISOString(),
      sensor_id: this.sensorId,
      ...stats,
      mqtt: {
        alerts_published: this.alertsPublished - this.alertsPublishedReported,
        outbox_pending: ob.pending,
        outbox_dropped: ob.dropped - this.droppedReported,
        outbox_dropped_total: ob.dropped,
        outbox_writes_total: ob.writes,
        reconnects_total: this.reconnects,
      },
    });
    this.alertsPublishedReported = this.alertsPublished;
    this.droppedReported = ob.dropped;
    this.client!.publish(this.topics.stats, payload, { qos: 0, retain: false });
  }

  /**
   * Writes staged alerts and deletes delivered ones in one transaction of its own (no write at all
   * when there is nothing to do). The publisher's timer calls it; a daemon that wants it in step with
   * the storage flush passes flushIntervalMs: 0 and calls it right after that flush. Not inside
   * another transaction: if that one rolled back, the outbox would believe rows that are not there.
   */
  flush(): void {
    try {
      const dropped = this.outbox.flush();
      if (dropped > 0) this.log('warn', `mqtt: outbox full, dropped the ${dropped} oldest undelivered alert(s)`);
    } catch (err) {
      this.log('error', `mqtt: could not write the alert outbox (${errorText(err)}); will retry at the next flush`);
    }
  }

  /**
   * Delivers what it can within drainMs, announces `offline` (retained), disconnects cleanly and
   * writes the outbox, so undelivered alerts are sent after the next start.
   */
  async stop(opts: { drainMs?: number; beforeOffline?: () => void } = {}): Promise<void> {
    if (this.state === 'stopped' || this.stopping) return;
    this.stopping = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.refusedTimer) clearTimeout(this.refusedTimer);
    if (this.flushTimer) clearInterval(this.flushTimer);
    const client = this.client;
    if (client && this.state === 'online') {
      await waitFor(() => this.outbox.counters().pending === 0 || this.state !== 'online', opts.drainMs ?? 2000);
      if (this.state === 'online') {
        // After the drain, so last words such as the final stats count the alerts just delivered.
        opts.beforeOffline?.();
        await withTimeout(client.publishAsync(this.topics.status, 'offline', { qos: 1, retain: true }), 2000);
        await withTimeout(client.endAsync(false), 2000);
      }
    }
    this.generation++;
    client?.end(true);
    this.client = null;
    this.flush();
    this.setState('stopped');
    this.log('info', `mqtt: stopped (${this.outbox.counters().pending} alert(s) left in the outbox)`);
  }

  status(): PublisherStatus {
    return {
      state: this.state,
      url: this.safeUrl,
      clientId: this.config.clientId,
      topicPrefix: this.config.topicPrefix,
      lastError: this.lastError,
      protocolVersion: this.protocolVersion,
      inflight: this.inflight.length,
      alertsPublished: this.alertsPublished,
      reconnects: this.reconnects,
      outbox: this.outbox.counters(),
    };
  }

  private setState(state: PublisherState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  private connect(): void {
    if (this.stopping) return;
    const gen = ++this.generation;
    this.connectionError = null;
    this.setState('connecting');
    const client = connect(this.config.url, {
      clientId: this.config.clientId,
      username: this.config.username,
      password: this.password,
      ...this.tlsOptions,
      rejectUnauthorized: this.config.rejectUnauthorized,
      keepalive: this.config.keepaliveS,
      connectTimeout: this.config.connectTimeoutMs,
      reconnectPeriod: 0,
      clean: true,
      protocolVersion: this.protocolVersion,
      will: { topic: this.topics.status, payload: Buffer.from('offline'), qos: 1, retain: true },
    });
    this.client = client;
    client.on('connect', () => gen === this.generation && this.onConnect());
    client.on('error', (err) => gen === this.generation && this.onError(err));
    client.on('close', () => gen === this.generation && this.onClose());
    client.on('message', (topic, payload) => gen === this.generation && this.onMessage(topic, payload));
  }

  private onConnect(): void {
    const client = this.client!;
    if (this.everConnected) this.reconnects++;
    this.everConnected = true;
    this.connectedAt = Date.now();
    this.authFailed = false;
    this.lastError = null;
    this.lastLogged = null;
    this.log('info', `mqtt: connected to ${this.safeUrl} as ${this.config.clientId} (MQTT ${this.protocolVersion === 5 ? '5' : '3.1.1'})`);
    this.refused.clear(); // every in-flight alert is sent again below
    if (this.refusedTimer) clearTimeout(this.refusedTimer);
    this.refusedTimer = null;
    client.publish(this.topics.status, 'online', { qos: 1, retain: true });
    if (this.lastHealth) client.publish(this.topics.health, this.lastHealth, { qos: 0, retain: true });
    if (this.config.homeAssistant.enabled) {
      client.subscribe(`${this.config.homeAssistant.discoveryPrefix}/status`, { qos: 1 });
      this.publishDiscovery();
    }
    this.setState('online');
    // Alerts that were in flight when the last connection dropped go first, in their order.
    const gen = this.generation;
    for (const entry of this.inflight) this.publishAlert(entry, gen);
    this.pump();
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (
      this.config.homeAssistant.enabled &&
      topic === `${this.config.homeAssistant.discoveryPrefix}/status` &&
      payload.toString() === 'online'
    ) {
      this.publishDiscovery();
    }
  }

  private publishDiscovery(): void {
    const messages = discoveryMessages({
      sensorId: this.sensorId,
      topics: this.topics,
      discoveryPrefix: this.config.homeAssistant.discoveryPrefix,
      version: this.version,
    });
    for (const m of messages) this.client!.publish(m.topic, m.payload, { qos: 1, retain: true });
  }

  private onError(err: Error): void {
    const code = (err as { code?: unknown }).code;
    // CONNACK "unacceptable protocol version" (3.1.1's code 1, 5's 0x84): try again with 3.1.1 at once.
    if (this.protocolVersion === 5 && (code === 1 || code === 0x84)) {
      this.protocolVersion = 4;
      this.retryWithOlderProtocol = true;
      this.log('info', `mqtt: the broker at ${this.safeUrl} does not speak MQTT 5; using 3.1.1 (a publish its ACL refuses then goes unnoticed)`);
      return;
    }
    if (typeof code === 'number' && AUTH_REFUSALS[code]) {
      this.authFailed = true;
      const user = this.config.username ?? urlUser(this.config.url);
      const who = user ? `user '${user}'` : 'this client';
      this.connectionError =
        `the broker at ${this.safeUrl} refused ${who}: ${AUTH_REFUSALS[code]} ` +
        `(check mqtt.username/password/cert and the broker's ACL)`;
    } else {
      this.connectionError = describeConnectionError(err, this.safeUrl);
    }
  }

  private onClose(): void {
    const wasOnline = this.state === 'online';
    // Back off from scratch only after a connection that held. One dropped at once (say, a second
    // sensor with the same client id, which makes the broker drop the other) keeps growing the
    // delay instead of flapping every second.
    if (wasOnline && Date.now() - this.connectedAt >= STABLE_CONNECTION_MS) this.attempt = 0;
    this.generation++; // whatever the dead client still emits is stale from here on
    this.client?.end(true);
    this.client = null;
    if (this.stopping) return;
    if (this.retryWithOlderProtocol) {
      this.retryWithOlderProtocol = false;
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        this.connect();
      }, 0);
      return;
    }
    const reason = this.connectionError ?? (wasOnline ? `connection to ${this.safeUrl} lost` : `could not connect to ${this.safeUrl}`);
    this.lastError = reason;
    // A refused identity will not fix itself in seconds: wait long, so the log and the broker are not
    // flooded. TLS certificate errors get the normal backoff: on a Pi without a clock battery they
    // clear as soon as NTP sets the time.
    const delay = this.authFailed
      ? this.config.authRetryMs
      : reconnectDelay(this.attempt++, { minMs: this.config.reconnectMinMs, maxMs: this.config.reconnectMaxMs }, this.random);
    const line = `mqtt: ${reason}; next attempt in ${(delay / 1000).toFixed(1)} s`;
    if (reason !== this.lastLogged) {
      this.log(this.authFailed ? 'error' : 'warn', line);
      this.lastLogged = reason;
    } else {
      this.log('debug', line);
    }
    this.setState(this.authFailed ? 'auth_failed' : 'waiting');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, delay);
  }

  /**
   * The broker refused an alert (MQTT 5 PUBACK reason code, typically 0x87 "not authorized": its ACL
   * does not let this client publish on the alerts topic). The alert stays in the outbox, in flight,
   * and is sent again after a growing delay; the pump stops while the window is full of them.
   */
  private onAlertRefused(entry: OutboxEntry, code: number, message: string): void {
    this.refused.add(entry);
    const user = this.config.username ?? urlUser(this.config.url);
    const why = message.startsWith('Publish error: ') ? message.slice('Publish error: '.length) : message;
    const reason = `the broker at ${this.safeUrl} refuses alerts on ${this.topics.alerts}: ${why} (reason code 0x${code.toString(16)}); ` +
      `check its ACL for ${user ? `user '${user}'` : 'this client'}. The alerts stay in the outbox`;
    this.lastError = reason;
    if (this.refusedTimer !== null) return;
    const delay = reconnectDelay(this.refusedAttempt++, { minMs: this.config.reconnectMinMs, maxMs: this.config.reconnectMaxMs }, this.random);
    if (reason !== this.refusal) {
      this.log('error', `mqtt: ${reason}; next attempt in ${(delay / 1000).toFixed(1)} s`);
      this.refusal = reason;
    }
    const gen = this.generation;
    this.refusedTimer = setTimeout(() => {
      this.refusedTimer = null;
      if (gen !== this.generation || this.state !== 'online') return;
      const again = [...this.refused];
      this.refused.clear();
      for (const e of again) if (this.inflight.includes(e)) this.publishAlert(e, gen);
    }, delay);
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.state !== 'online') return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Fills the in-flight window from the outbox, oldest first. */
  private pump(): void {
    if (this.state !== 'online') return;
    const gen = this.generation;
    while (this.inflight.length < this.config.maxInflight) {
      const batch = this.outbox.take(this.config.maxInflight - this.inflight.length);
      if (batch.length === 0) return;
      for (const entry of batch) {
        this.inflight.push(entry);
        this.publishAlert(entry, gen);
      }
    }
  }

  private publishAlert(entry: OutboxEntry, gen: number): void {
    this.client!.publish(this.topics.alerts, entry.payload, { qos: 1, retain: false }, (err) => {
      // A stale connection or an error: the entry stays in flight and is sent again on reconnect,
      // or, when the broker refused it, after a delay.
      if (gen !== this.generation) return;
      if (err) {
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'number' && code >= 0x80) this.onAlertRefused(entry, code, err.message);
        return;
      }
      const i = this.inflight.indexOf(entry);
      if (i < 0) return;
      if (this.refusal !== null) {
        this.log('info', `mqtt: the broker accepts alerts on ${this.topics.alerts} again`);
        this.refusal = null;
        this.refusedAttempt = 0;
        this.lastError = null;
      }
      this.inflight.splice(i, 1);
      this.outbox.ack(entry);
      this.alertsPublished++;
      this.schedulePump();
    });
  }
}

function readConfigFile(key: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new MqttConfigError(`config ${key}: cannot read ${path} (${errorText(err).split(',')[0]})`);
  }
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

function urlUser(url: string): string | undefined {
  try {
    return decodeURIComponent(new URL(url).username) || undefined;
  } catch {
    return undefined;
  }
}

function errorText(err: unknown): string {
  // Not instanceof: errors from another realm (vm contexts, workers) are Errors too.
  const message = (err as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(err);
}

function describeConnectionError(err: Error, url: string): string {
  const code = (err as { code?: unknown }).code;
  switch (code) {
    case 'ECONNREFUSED':
      return `the broker at ${url} refused the connection (is it running, is the port right?)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the broker host in ${url}`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return `the broker at ${url} is unreachable (${code})`;
    case 'ECONNRESET':
      return `the broker at ${url} reset the connection`;
  }
  if (typeof code === 'string' && (code.includes('CERT') || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS'))) {
    return `TLS with ${url} failed: ${err.message} (check mqtt.ca/cert/key and the system clock)`;
  }
  return `connection to ${url} failed: ${err.message}`;
}

async function waitFor(done: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}
