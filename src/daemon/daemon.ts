/**
 * The sensor's main loop: load the profiles, run capture → fingerprint → profile, print and store
 * alerts, flush on a timer, and on end of input or SIGTERM/SIGINT flush once more and exit 0.
 */
import { dirname } from 'node:path';
import type { Flow } from '../capture/flow-table.js';
import { CaptureError, describeCapture, type CaptureSpec } from '../capture/source.js';
import { buildAlert, eveProto, LATEST_ISO_MS, type AlertRecord } from '../anomaly/alert.js';
import { BehaviorProfiler } from '../anomaly/profiler.js';
import { startFingerprinting, type FingerprintRun } from '../fingerprint/fingerprint-capture.js';
import type { FingerprintRecord } from '../fingerprint/record.js';
import { openSensorDb, StorageError, type Logger, type SensorDb } from '../storage/db.js';
import { acquireWriterLock, type WriterLock } from '../storage/lock.js';
import { Persister, type FlushReport } from '../storage/persister.js';
import { loadProfiles } from '../storage/profiles.js';
import { HealthSampler } from '../health/index.js';
import { MqttConfigError, MqttPublisher, resolveMqttConfig } from '../mqtt/index.js';
import type { SensorConfig } from './config.js';
import { ProfileFeed } from './profile-feed.js';
import { parserMemory } from '../fingerprint/parser-memory.js';
import { unsupportedLinkTypeMessage } from '../capture/decode.js';

/** Exit codes: documented in `sensord --help`. */
export const EXIT_OK = 0;
export const EXIT_CAPTURE = 2;
export const EXIT_CAPTURE_TOOL = 3;
export const EXIT_STORAGE = 4;
export const EXIT_CONFIG = 78;

export interface DaemonOptions {
  config: SensorConfig;
  capture: CaptureSpec;
  dbPath: string;
  log: Logger;
  /** Alerts as JSON lines on stdout. */
  printAlerts: boolean;
  keyLog?: Buffer;
  /** Hooks for the service manager and other consumers (MQTT, control socket). */
  onReady?: (daemon: SensorDaemon) => void;
  onAlert?: (alert: AlertRecord) => void;
}

export interface DaemonSummary {
  source: string;
  frames: number;
  bytes: number;
  connections: number;
  seconds: number;
  fingerprints: Record<string, { count: number; distinct: number }>;
  observations: number;
  alerts: AlertRecord[];
  profileRows: number;
  anchors: number;
  lastFlush: FlushReport | null;
  sensorId: string;
  dbPath: string;
}

const MAX_ALERTS_KEPT_FOR_SUMMARY = 100;
const MAX_DISTINCT_TRACKED = 10000;

export class SensorDaemon {
  store: SensorDb | null = null;
  profiler: BehaviorProfiler | null = null;
  persister: Persister | null = null;
  run: FingerprintRun | null = null;
  readonly startedAt = Date.now();
  private stopping = false;
  private statusTimer: NodeJS.Timeout | null = null;
  private statsTimer: NodeJS.Timeout | null = null;
  private readonly fingerprintCounts = new Map<string, { count: number; distinct: Set<string> }>();
  private readonly recentAlerts: AlertRecord[] = [];
  alertCount = 0;
  private feed: ProfileFeed | null = null;
  publisher: MqttPublisher | null = null;
  private health: HealthSampler | null = null;
  private writerLock: WriterLock | null = null;
  private lastStats = { at: Date.now(), frames: 0, fingerprints: 0, alerts: 0, dayBytes: 0 };
  private lastStatus = { at: Date.now(), frames: 0, bytes: 0 };

  constructor(private readonly opts: DaemonOptions) {}

  get log(): Logger {
    return this.opts.log;
  }

  /** Runs to the end of the capture (or a stop request) and returns the process exit code. */
  async start(): Promise<{ exitCode: number; summary: DaemonSummary | null }> {
    const { config, log } = this.opts;
    try {
      // One sensord per database, taken before the open (which may move a damaged file aside): a
      // second one would write its own absolute counts over the first's at every flush.
      this.writerLock = acquireWriterLock(this.opts.dbPath, 'this sensord');
      this.store = openSensorDb(this.opts.dbPath, { log, sensorId: config.sensor_id ?? undefined });
    } catch (err) {
      this.writerLock?.release();
      if (err instanceof StorageError) {
        log('error', err.message);
        return { exitCode: err.code === 'SCHEMA_TOO_NEW' ? EXIT_CONFIG : EXIT_STORAGE, summary: null };
      }
      log('error', `cannot open database ${this.opts.dbPath}: ${(err as Error).message}`);
      return { exitCode: EXIT_STORAGE, summary: null };
    }
    const store = this.store;
    const profiler = new BehaviorProfiler({
      pairs: config.pairs,
      minSeen: config.min_seen,
      rarityFraction: config.rare_fraction,
      alertWindowMs: config.alert_window_seconds * 1000,
      maxAnchors: config.caps.max_anchors,
      maxCompanionsPerAnchor: config.caps.max_companions_per_anchor,
    });
    this.profiler = profiler;
    const loaded = loadProfiles(store.db, profiler);
    log('info', 'profiles loaded', {
      db: store.path, sensor_id: store.sensorId, rows: profiler.rowCount, anchors: profiler.anchorCount,
      base_rows: loaded.baseRows, journal_rows: loaded.journalRows, ms: Math.round(loaded.ms),
    });
    const overCaps = profiler.evictions;
    if (overCaps.anchors > 0 || overCaps.companions > 0) {
      // Stored rows (a seed, an import, a lowered cap) that the caps cannot hold: not silently.
      log('warn', `the database holds more than the caps allow: ${overCaps.anchors} least recently updated anchors and ${overCaps.companions} ` +
        `companion rows beyond caps.max_companions_per_anchor (${config.caps.max_companions_per_anchor}) were not loaded and are deleted at the first flush; ` +
        `to keep them, stop sensord now, save them (sensorctl export-profiles) and raise the caps`, { max_anchors: config.caps.max_anchors });
    }
    this.persister = new Persister(store, profiler, {
      flushIntervalMs: config.flush_interval * 1000,
      maxIntervalMs: config.max_flush_interval * 1000,
      writeBudgetMbPerDay: config.write_budget_mb_per_day,
      alertMaxRows: config.alerts.max_rows,
      alertMaxDays: config.alerts.max_days,
      snapshotKeep: config.snapshots.keep,
      snapshotIntervalMs: config.snapshots.interval_hours * 3600_000,
      log,
    });
    this.persister.start();
    this.feed = new ProfileFeed(profiler);
    try {
      this.startMqtt(store);
    } catch (err) {
      if (err instanceof MqttConfigError) {
        log('error', err.message);
        this.persister.stop();
        store.close();
        this.writerLock?.release();
        return { exitCode: EXIT_CONFIG, summary: null };
      }
      throw err;
    }

    parserMemory.maxBytes = config.caps.max_parser_mb * 1024 * 1024;
    this.run = startFingerprinting(this.opts.capture, (record, flow) => this.onRecord(record, flow), {
      methods: config.methods,
      sshWindowPackets: config.ssh_window_packets,
      details: false, // profiles and alerts use the fingerprint values only
      flows: {
        maxFlows: config.caps.max_flows,
        tcpIdleSeconds: config.flows.tcp_idle_seconds,
        udpIdleSeconds: config.flows.udp_idle_seconds,
      },
    }, this.opts.keyLog);
    this.run.engine.decoder.onUnsupportedLinkType = (linkType) => log('warn', unsupportedLinkTypeMessage(linkType));
    log('info', 'capture started', { source: describeCapture(this.opts.capture), methods: this.run.engine.activeAnalyzers.join(',') });
    this.opts.onReady?.(this);
    this.statusTimer = setInterval(() => this.logStatus(), config.status_interval * 1000);
    this.statusTimer.unref();

    let exitCode = EXIT_OK;
    try {
      const result = await this.run.done;
      log('info', result.stopped ? 'capture stopped' : 'capture ended', { frames: result.frames, bytes: result.bytes });
    } catch (err) {
      if (err instanceof CaptureError) {
        log('error', err.message);
        exitCode = err.exitCode;
      } else {
        log('error', `capture failed: ${(err as Error).message}`);
        exitCode = EXIT_CAPTURE;
      }
    }
    const finalFlush = this.persister?.stop() ?? null;
    const summary = this.summary(finalFlush);
    await this.stopMqtt();
    return { exitCode: this.shutdown(exitCode, finalFlush), summary };
  }

  /** Asks the capture to stop; start() then flushes and resolves. Safe to call repeatedly. */
  stop(reason: string): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log('info', `stopping (${reason})`);
    this.run?.capture.stop();
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  private onRecord(record: FingerprintRecord, flow: Flow): void {
    let entry = this.fingerprintCounts.get(record.type);
    if (entry === undefined) {
      entry = { count: 0, distinct: new Set() };
      this.fingerprintCounts.set(record.type, entry);
    }
    entry.count++;
    if (entry.distinct.size < MAX_DISTINCT_TRACKED) entry.distinct.add(record.value);
    const engine = this.run?.engine;
    // Capture time, so a replayed file alerts at the moment of its traffic, as a live sensor would.
    const tsUs = engine?.lastTsUs ?? 0;
    // Within what an ISO 8601 timestamp can say: a capture may claim the year 275760 or beyond.
    const nowMs = tsUs > 0 ? Math.min(Math.floor(tsUs / 1000), LATEST_ISO_MS) : Date.now();
    const verdicts = this.feed?.onRecord(record, flow, nowMs);
    if (!verdicts) return;
    for (const { verdict } of verdicts) {
      const alert = buildAlert(verdict, {
        src_ip: flow.client, src_port: flow.clientPort, dest_ip: flow.server, dest_port: flow.serverPort, proto: eveProto(flow.transport),
      }, this.store?.sensorId ?? 'unknown', nowMs);
      this.alertCount++;
      if (this.recentAlerts.length < MAX_ALERTS_KEPT_FOR_SUMMARY) this.recentAlerts.push(alert);
      if (this.opts.printAlerts) process.stdout.write(`${JSON.stringify(alert)}\n`);
      this.persister?.addAlert(alert);
      this.publisher?.enqueue(alert);
      this.opts.onAlert?.(alert);
    }
  }

  /** Counters for the status log and `sensorctl status`. */
  liveStats(): Record<string, unknown> {
    const engine = this.run?.engine;
    const now = Date.now();
    const frames = this.run?.capture.framesRead ?? 0;
    const bytes = this.run?.capture.bytesRead ?? 0;
    const dt = Math.max(1, now - this.lastStatus.at) / 1000;
    return {
      uptime_s: Math.round((now - this.startedAt) / 1000),
      source: describeCapture(this.opts.capture),
      packets: frames,
      bytes,
      packets_per_s: Math.round((frames - this.lastStatus.frames) / dt),
      flows: engine?.flows.size ?? 0,
      fingerprints: engine?.stats.fingerprints ?? 0,
      alerts: this.alertCount,
      profile_rows: this.profiler?.rowCount ?? 0,
      anchors: this.profiler?.anchorCount ?? 0,
      rss_mb: Math.round(process.memoryUsage().rss / 1048576),
      // Held by parsers between packets, and copies refused because caps.max_parser_mb was reached.
      parser_held_mb: Math.round(parserMemory.used / 104857.6) / 10,
      parser_refusals: parserMemory.refusals,
    };
  }

  /** MQTT is off unless a broker URL is configured; the publisher keeps its own outbox in the sensor DB. */
  private startMqtt(store: SensorDb): void {
    const { config, log } = this.opts;
    const mqtt = resolveMqttConfig(config.mqtt, { sensorId: store.sensorId });
    if (mqtt === null) return;
    // The publisher writes its outbox on the same cadence as the profile flush, outside its transaction.
    this.publisher = new MqttPublisher({ config: mqtt, sensorId: store.sensorId, db: store.db, log, flushIntervalMs: config.flush_interval * 1000 });
    this.publisher.start();
    this.health = new HealthSampler({
      dataPath: dirname(store.path),
      intervalMs: config.health.interval_seconds * 1000,
      onSample: (sample) => this.publisher?.publishHealth(sample),
    });
    this.health.start();
    this.statsTimer = setInterval(() => this.publishStats(), config.status_interval * 1000);
    this.statsTimer.unref();
  }

  private publishStats(): void {
    if (!this.publisher) return;
    const now = Date.now();
    const frames = this.run?.capture.framesRead ?? 0;
    const fingerprints = this.run?.engine.stats.fingerprints ?? 0;
    const dayBytes = this.persister?.stats().dayBytes ?? 0;
    this.publisher.publishStats({
      interval_seconds: Math.round((now - this.lastStats.at) / 1000),
      packets: frames - this.lastStats.frames,
      flows: this.run?.engine.flows.size ?? 0,
      fingerprints: fingerprints - this.lastStats.fingerprints,
      alerts: this.alertCount - this.lastStats.alerts,
      flash_bytes_written: Math.max(0, dayBytes - this.lastStats.dayBytes),
    });
    this.lastStats = { at: now, frames, fingerprints, alerts: this.alertCount, dayBytes };
  }

  private async stopMqtt(): Promise<void> {
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.health?.stop();
    if (this.publisher) {
      // Deliver what the broker will take in a moment (the rest stays in the outbox for next start),
      // then the final stats, then `offline`.
      await this.publisher.stop({ drainMs: 2000, beforeOffline: () => this.publishStats() });
    }
  }

  private logStatus(): void {
    const stats = this.liveStats();
    const p = this.persister?.stats();
    this.log('info', 'status', {
      ...stats,
      flushes: p?.flushes, last_flush_rows: p?.lastFlush?.rows, last_flush_bytes: p?.lastFlush?.bytes,
      flash_bytes_today: p?.dayBytes, proc_write_bytes_today: p?.dayProcWriteBytes, flush_interval_s: p ? p.intervalMs / 1000 : undefined,
    });
    this.lastStatus = { at: Date.now(), frames: stats.packets as number, bytes: stats.bytes as number };
  }

  private shutdown(exitCode: number, report: FlushReport | null): number {
    if (this.statusTimer) clearInterval(this.statusTimer);
    if (report && !report.ok) {
      this.log('error', `final flush failed: ${report.error ?? 'unknown error'}`);
      if (exitCode === EXIT_OK) exitCode = EXIT_STORAGE;
    } else if (report) {
      this.log('info', 'final flush', { rows: report.rows, alerts: report.alerts, bytes: report.bytes, ms: Math.round(report.durationMs) });
    }
    this.store?.close();
    this.writerLock?.release();
    return exitCode;
  }

  private summary(finalFlush: FlushReport | null): DaemonSummary | null {
    if (!this.run || !this.store || !this.profiler) return null;
    const fingerprints: DaemonSummary['fingerprints'] = {};
    for (const [type, e] of this.fingerprintCounts) fingerprints[type] = { count: e.count, distinct: e.distinct.size };
    return {
      source: describeCapture(this.opts.capture),
      frames: this.run.capture.framesRead,
      bytes: this.run.capture.bytesRead,
      connections: this.run.engine.stats.flows,
      seconds: (Date.now() - this.startedAt) / 1000,
      fingerprints,
      observations: this.feed?.observations ?? 0,
      alerts: this.recentAlerts,
      profileRows: this.profiler.rowCount,
      anchors: this.profiler.anchorCount,
      lastFlush: finalFlush,
      sensorId: this.store.sensorId,
      dbPath: this.store.path,
    };
  }
}

