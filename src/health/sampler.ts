/**
 * HealthSampler: device health every interval (60 s by default), cheap enough for a Pi Zero 2 W.
 *
 * Cost is the design constraint. systeminformation's cpuTemperature() and currentLoad() spawn shells
 * on Linux (one of them synchronously, blocking the event loop) and fsSize() runs df; so only its
 * mem() (one async read of /proc/meminfo) is used, and the rest comes from single file reads and
 * Node built-ins: the thermal zone file, os.cpus() deltas, statfs() on the data partition, the
 * event-loop delay histogram, and the firmware's throttling bits (sysfs, or vcgencmd where that is
 * all there is). Sources are found once, at construction. Each sample reports its own cost.
 */
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile, statfs } from 'node:fs/promises';
import { cpus, loadavg, uptime } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import si from 'systeminformation';
import { throttleReader, type ThrottleFlags, type ThrottleReader, type ThrottleSourceOptions } from './throttle.js';

export interface HealthSample {
  timestamp: string;
  uptime_s: number;
  process_uptime_s: number;
  cpu_temp_c: number | null;
  /** Busy share of all cores since the previous sample, 0-100. */
  cpu_load_pct: number | null;
  load_avg: [number, number, number];
  mem_total_bytes: number | null;
  mem_used_bytes: number | null;
  mem_available_bytes: number | null;
  mem_used_pct: number | null;
  disk_path: string;
  disk_total_bytes: number | null;
  disk_used_bytes: number | null;
  disk_free_bytes: number | null;
  disk_used_pct: number | null;
  rss_bytes: number;
  heap_used_bytes: number;
  /** Event-loop delay since the previous sample (null before start()). */
  event_loop_lag_mean_ms: number | null;
  event_loop_lag_p99_ms: number | null;
  event_loop_lag_max_ms: number | null;
  /** Raspberry Pi firmware flags; null where the board has none. */
  throttled: ThrottleFlags | null;
  /**
   * What taking this sample cost: elapsed time (including any wait behind other work on the event
   * loop) and the CPU time of the sampler's own steps on the main thread.
   */
  sample_wall_ms: number;
  sample_cpu_ms: number;
}

export interface HealthSamplerOptions {
  /** A directory on the data partition (where the sensor DB lives). */
  dataPath: string;
  /** Default 60 000. */
  intervalMs?: number;
  /** Thermal zone `temp` file (millidegrees); null: none. Default: the CPU zone, else zone 0. */
  thermalPath?: string | null;
  throttle?: ThrottleSourceOptions;
  /** Called with each periodic sample (also emitted as 'sample'). */
  onSample?: (sample: HealthSample) => void;
}

export const HEALTH_DEFAULTS = { interval_seconds: 60 } as const;

/** JSON schema of the config file's `health` section (the data partition is the one holding db_path). */
export const healthConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    interval_seconds: { type: 'number', minimum: 1, maximum: 86_400 },
  },
} as const;

export class HealthSampler extends EventEmitter {
  private readonly dataPath: string;
  private readonly intervalMs: number;
  private readonly thermalPath: string | null;
  private readonly readThrottle: ThrottleReader | null;
  private readonly onSample?: (sample: HealthSample) => void;
  private timer: NodeJS.Timeout | null = null;
  private lag: IntervalHistogram | null = null;
  private prevCpu = cpuTimes();
  private sampling = false;

  constructor(opts: HealthSamplerOptions) {
    super();
    this.dataPath = opts.dataPath;
    this.intervalMs = opts.intervalMs ?? HEALTH_DEFAULTS.interval_seconds * 1000;
    this.thermalPath = opts.thermalPath === undefined ? findCpuThermalZone() : opts.thermalPath;
    this.readThrottle = throttleReader(opts.throttle);
    this.onSample = opts.onSample;
  }

  /** Samples now and then every interval; each sample is emitted as 'sample'. */
  start(): void {
    if (this.timer) return;
    this.lag = monitorEventLoopDelay({ resolution: 20 });
    this.lag.enable();
    this.timer = setInterval(() => void this.tick(), this.intervalMs);
    this.timer.unref();
    void this.tick();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.lag?.disable();
    this.lag = null;
  }

  /** One sample. Never rejects: a probe that fails reports null. */
  async sample(): Promise<HealthSample> {
    const wall0 = performance.now();
    // CPU is counted only over the sampler's own synchronous steps: while it awaits, the daemon's
    // other work runs on the same thread and must not be billed to the sample.
    let cpu = process.cpuUsage();
    const reads = Promise.all([
      this.thermalPath ? readFile(this.thermalPath, 'utf8').then((t) => Math.round(parseInt(t, 10) / 100) / 10, () => null) : null,
      si.mem().catch(() => null),
      statfs(this.dataPath).catch(() => null),
      this.readThrottle ? this.readThrottle().catch(() => null) : null,
    ]);
    let spent = process.cpuUsage(cpu);
    const [temp, mem, disk, throttled] = await reads;
    cpu = process.cpuUsage();

    const now = cpuTimes();
    const busy = now.busy - this.prevCpu.busy;
    const total = now.total - this.prevCpu.total;
    this.prevCpu = now;

    const lag = this.lag;
    const lagMs = (ns: number) => (Number.isFinite(ns) ? Math.round(ns / 1e4) / 100 : null);
    const lagFields = lag
      ? { event_loop_lag_mean_ms: lagMs(lag.mean), event_loop_lag_p99_ms: lagMs(lag.percentile(99)), event_loop_lag_max_ms: lagMs(lag.max) }
      : { event_loop_lag_mean_ms: null, event_loop_lag_p99_ms: null, event_loop_lag_max_ms: null };
    lag?.reset();

    const memUsed = mem ? mem.total - mem.available : null;
    const diskTotal = disk ? disk.blocks * disk.bsize : null;
    const diskUsed = disk ? (disk.blocks - disk.bfree) * disk.bsize : null;
    const diskFree = disk ? disk.bavail * disk.bsize : null;
    const heap = process.memoryUsage();

    const sample: HealthSample = {
      timestamp: new Date().toISOString(),
      uptime_s: Math.round(uptime()),
      process_uptime_s: Math.round(process.uptime()),
      cpu_temp_c: temp,
      cpu_load_pct: total > 0 ? round1((busy / total) * 100) : null,
      load_avg: loadavg().map((x) => Math.round(x * 100) / 100) as [number, number, number],
      mem_total_bytes: mem?.total ?? null,
      mem_used_bytes: memUsed,
      mem_available_bytes: mem?.available ?? null,
      mem_used_pct: mem && memUsed !== null ? round1((memUsed / mem.total) * 100) : null,
      disk_path: this.dataPath,
      disk_total_bytes: diskTotal,
      disk_used_bytes: diskUsed,
      disk_free_bytes: diskFree,
      // As df computes it: used / (used + available to unprivileged users).
      disk_used_pct: diskUsed !== null && diskFree !== null && diskUsed + diskFree > 0 ? round1((diskUsed / (diskUsed + diskFree)) * 100) : null,
      rss_bytes: heap.rss,
      heap_used_bytes: heap.heapUsed,
      ...lagFields,
      throttled,
      sample_wall_ms: 0,
      sample_cpu_ms: 0,
    };
    const after = process.cpuUsage(cpu);
    spent = { user: spent.user + after.user, system: spent.system + after.system };
    sample.sample_cpu_ms = Math.round((spent.user + spent.system) / 10) / 100;
    sample.sample_wall_ms = Math.round((performance.now() - wall0) * 100) / 100;
    return sample;
  }

  private async tick(): Promise<void> {
    if (this.sampling) return; // a slow sample (SD card stall) must not pile up behind itself
    this.sampling = true;
    try {
      const s = await this.sample();
      // Stopped while sampling: the daemon is shutting down and has announced `offline` by now.
      if (!this.timer) return;
      this.onSample?.(s);
      this.emit('sample', s);
    } finally {
      this.sampling = false;
    }
  }
}

function round1(x: number): number {
  return Math.round(x * 10) / 10;
}

function cpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const c of cpus()) {
    const t = c.times;
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

/** The thermal zone whose type names the CPU (cpu-thermal on a Pi), else zone 0, else none. */
export function findCpuThermalZone(root = '/sys/class/thermal'): string | null {
  try {
    const zones = readdirSync(root).filter((d) => d.startsWith('thermal_zone')).sort();
    for (const z of zones) {
      const type = join(root, z, 'type');
      if (existsSync(type) && readFileSync(type, 'utf8').toLowerCase().includes('cpu')) return join(root, z, 'temp');
    }
    const first = zones[0] ? join(root, zones[0], 'temp') : null;
    return first && existsSync(first) ? first : null;
  } catch {
    return null;
  }
}
