/** HealthSampler on this machine, plus Raspberry Pi sources laid out as real files in a temp dir. */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { HealthSampler, findCpuThermalZone, type HealthSample } from '../../src/health/sampler.js';
import { decodeThrottled, parseThrottled, throttleReader } from '../../src/health/throttle.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ja4-health-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const noPi = { sysfsPath: null, vcgencmdPath: null, hwmonRoot: null };

test('a sample reports memory, the data partition, uptime, RSS and its own cost', async () => {
  const s = new HealthSampler({ dataPath: dir, thermalPath: null, throttle: noPi });
  const h = await s.sample();
  const fs = statfsSync(dir);
  expect(h.disk_path).toBe(dir);
  expect(h.disk_total_bytes).toBe(fs.blocks * fs.bsize);
  expect(h.disk_used_pct).toBeGreaterThanOrEqual(0);
  expect(h.disk_used_pct).toBeLessThanOrEqual(100);
  expect(h.mem_total_bytes).toBe(totalmem());
  expect(h.mem_used_bytes! + h.mem_available_bytes!).toBe(h.mem_total_bytes);
  expect(h.mem_used_pct).toBeGreaterThan(0);
  expect(h.uptime_s).toBeGreaterThan(0);
  expect(h.rss_bytes).toBeGreaterThan(10 * 1024 * 1024);
  expect(h.load_avg).toHaveLength(3);
  expect(h.cpu_temp_c).toBeNull();
  expect(h.throttled).toBeNull();
  expect(h.event_loop_lag_p99_ms).toBeNull(); // not started: no histogram
  expect(h.sample_wall_ms).toBeGreaterThan(0);
  expect(h.sample_cpu_ms).toBeGreaterThanOrEqual(0);
  expect(JSON.parse(JSON.stringify(h))).toEqual(h); // publishable as is
});

test('CPU temperature comes from the CPU thermal zone (millidegrees)', async () => {
  for (const [zone, type, temp] of [['thermal_zone0', 'soc-dummy', '30000'], ['thermal_zone1', 'cpu-thermal', '47234']]) {
    mkdirSync(join(dir, zone!));
    writeFileSync(join(dir, zone!, 'type'), `${type}\n`);
    writeFileSync(join(dir, zone!, 'temp'), `${temp}\n`);
  }
  const zone = findCpuThermalZone(dir);
  expect(zone).toBe(join(dir, 'thermal_zone1', 'temp'));
  const h = await new HealthSampler({ dataPath: dir, thermalPath: zone, throttle: noPi }).sample();
  expect(h.cpu_temp_c).toBe(47.2);
  expect(findCpuThermalZone(join(dir, 'nowhere'))).toBeNull();
});

test('throttling bits decode as the firmware documents them', () => {
  expect(parseThrottled('throttled=0x50005\n')).toBe(0x50005);
  expect(parseThrottled('50005\n')).toBe(0x50005);
  expect(parseThrottled('0x0')).toBe(0);
  expect(parseThrottled('error=1')).toBeNull();
  expect(decodeThrottled(0x50005, 'sysfs')).toEqual({
    raw: '0x50005',
    source: 'sysfs',
    under_voltage_now: true,
    freq_capped_now: false,
    throttled_now: true,
    soft_temp_limit_now: false,
    under_voltage_occurred: true,
    freq_capped_occurred: false,
    throttled_occurred: true,
    soft_temp_limit_occurred: false,
  });
  expect(decodeThrottled(0x80008, 'vcgencmd')).toMatchObject({ soft_temp_limit_now: true, soft_temp_limit_occurred: true, under_voltage_now: false });
});

test('throttle sources: sysfs first, then vcgencmd, then the hwmon under-voltage alarm', async () => {
  const sysfs = join(dir, 'get_throttled');
  writeFileSync(sysfs, '50000\n');
  const vcgencmd = join(dir, 'vcgencmd');
  writeFileSync(vcgencmd, '#!/bin/sh\n[ "$1" = get_throttled ] && echo "throttled=0x1" || exit 1\n');
  chmodSync(vcgencmd, 0o755);
  const hwmon = join(dir, 'hwmon');
  mkdirSync(join(hwmon, 'hwmon3'), { recursive: true });
  writeFileSync(join(hwmon, 'hwmon3', 'name'), 'rpi_volt\n');
  writeFileSync(join(hwmon, 'hwmon3', 'in0_lcrit_alarm'), '1\n');

  const fromSysfs = await throttleReader({ sysfsPath: sysfs, vcgencmdPath: vcgencmd, hwmonRoot: hwmon })!();
  expect(fromSysfs).toMatchObject({ source: 'sysfs', raw: '0x50000', under_voltage_now: false, under_voltage_occurred: true });
  const fromVc = await throttleReader({ sysfsPath: join(dir, 'absent'), vcgencmdPath: vcgencmd, hwmonRoot: hwmon })!();
  expect(fromVc).toMatchObject({ source: 'vcgencmd', raw: '0x1', under_voltage_now: true });
  const fromHwmon = await throttleReader({ sysfsPath: null, vcgencmdPath: null, hwmonRoot: hwmon })!();
  expect(fromHwmon).toMatchObject({ source: 'hwmon', raw: null, under_voltage_now: true, throttled_now: null });
  expect(throttleReader(noPi)).toBeNull();

  const h = await new HealthSampler({ dataPath: dir, thermalPath: null, throttle: { sysfsPath: sysfs } }).sample();
  expect(h.throttled).toMatchObject({ source: 'sysfs', throttled_occurred: true });
});

test('start() samples at once and then every interval, measuring event-loop lag; stop() ends it', async () => {
  const samples: HealthSample[] = [];
  const s = new HealthSampler({ dataPath: dir, intervalMs: 150, thermalPath: null, throttle: noPi, onSample: (x) => samples.push(x) });
  s.start();
  await new Promise((r) => setTimeout(r, 50));
  expect(samples).toHaveLength(1);
  const until = Date.now() + 120;
  while (Date.now() < until); // block the event loop for 120 ms
  await new Promise((r) => setTimeout(r, 250));
  s.stop();
  const n = samples.length;
  expect(n).toBeGreaterThanOrEqual(2);
  expect(Math.max(...samples.map((x) => x.event_loop_lag_max_ms ?? 0))).toBeGreaterThanOrEqual(80);
  expect(samples.at(-1)!.cpu_load_pct).not.toBeNull();
  await new Promise((r) => setTimeout(r, 300));
  expect(samples).toHaveLength(n);
});

test('a sample still in flight when stop() is called is not emitted (shutdown has announced offline by then)', async () => {
  const samples: HealthSample[] = [];
  const s = new HealthSampler({ dataPath: dir, intervalMs: 60_000, thermalPath: null, throttle: noPi, onSample: (x) => samples.push(x) });
  s.start(); // the first sample starts at once and awaits its probes
  s.stop();
  await new Promise((r) => setTimeout(r, 300));
  expect(samples).toHaveLength(0);
});
