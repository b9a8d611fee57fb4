/**
 * Raspberry Pi throttling and under-voltage flags. The firmware reports one bit field (the value of
 * `vcgencmd get_throttled`); recent kernels expose the same value in sysfs, which costs a file read
 * instead of a process spawn, so sysfs is preferred.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ThrottleFlags {
  /** The firmware's bit field, e.g. "0x50005"; null when only the hwmon alarm is available. */
  raw: string | null;
  source: 'sysfs' | 'vcgencmd' | 'hwmon';
  under_voltage_now: boolean;
  freq_capped_now: boolean | null;
  throttled_now: boolean | null;
  soft_temp_limit_now: boolean | null;
  under_voltage_occurred: boolean | null;
  freq_capped_occurred: boolean | null;
  throttled_occurred: boolean | null;
  soft_temp_limit_occurred: boolean | null;
}

/** Bits 0-3: now; bits 16-19: has happened since boot. */
export function decodeThrottled(value: number, source: ThrottleFlags['source']): ThrottleFlags {
  const bit = (n: number) => (value & (1 << n)) !== 0;
  return {
    raw: `0x${value.toString(16)}`,
    source,
    under_voltage_now: bit(0),
    freq_capped_now: bit(1),
    throttled_now: bit(2),
    soft_temp_limit_now: bit(3),
    under_voltage_occurred: bit(16),
    freq_capped_occurred: bit(17),
    throttled_occurred: bit(18),
    soft_temp_limit_occurred: bit(19),
  };
}

/** Accepts "throttled=0x50005", "0x50005" or "50005" (sysfs prints bare hex). */
export function parseThrottled(text: string): number | null {
  const m = /^(?:throttled=)?(?:0x)?([0-9a-f]+)\s*$/i.exec(text.trim());
  return m ? parseInt(m[1]!, 16) : null;
}

export const SYSFS_THROTTLED = '/sys/devices/platform/soc/soc:firmware/get_throttled';
const VCGENCMD_CANDIDATES = ['/usr/bin/vcgencmd', '/opt/vc/bin/vcgencmd', '/usr/local/bin/vcgencmd'];

export interface ThrottleSourceOptions {
  /** sysfs file with the bit field; null: do not use. Default: the Raspberry Pi firmware node. */
  sysfsPath?: string | null;
  /** vcgencmd binary; null: do not use. Default: found in the usual places. */
  vcgencmdPath?: string | null;
  /** hwmon directory holding the rpi_volt under-voltage alarm; null: do not use. Default: searched. */
  hwmonRoot?: string | null;
}

export type ThrottleReader = () => Promise<ThrottleFlags | null>;

/** Picks the cheapest available source once; the returned reader does one read per call. */
export function throttleReader(opts: ThrottleSourceOptions = {}): ThrottleReader | null {
  const sysfs = opts.sysfsPath === undefined ? SYSFS_THROTTLED : opts.sysfsPath;
  if (sysfs && existsSync(sysfs)) {
    return async () => {
      const v = parseThrottled(await readFile(sysfs, 'utf8'));
      return v === null ? null : decodeThrottled(v, 'sysfs');
    };
  }
  const vcgencmd = opts.vcgencmdPath === undefined ? VCGENCMD_CANDIDATES.find((p) => existsSync(p)) : opts.vcgencmdPath;
  if (vcgencmd && existsSync(vcgencmd)) {
    return () =>
      new Promise((resolve) => {
        execFile(vcgencmd, ['get_throttled'], { timeout: 2000 }, (err, stdout) => {
          const v = err ? null : parseThrottled(stdout);
          resolve(v === null ? null : decodeThrottled(v, 'vcgencmd'));
        });
      });
  }
  const alarm = findRpiVoltAlarm(opts.hwmonRoot === undefined ? '/sys/class/hwmon' : opts.hwmonRoot);
  if (alarm) {
    return async () => {
      const on = (await readFile(alarm, 'utf8')).trim() === '1';
      return {
        raw: null,
        source: 'hwmon',
        under_voltage_now: on,
        freq_capped_now: null,
        throttled_now: null,
        soft_temp_limit_now: null,
        under_voltage_occurred: null,
        freq_capped_occurred: null,
        throttled_occurred: null,
        soft_temp_limit_occurred: null,
      };
    };
  }
  return null;
}

/** The raspberrypi-hwmon driver ("rpi_volt") raises in0_lcrit_alarm on under-voltage. */
function findRpiVoltAlarm(root: string | null): string | null {
  if (!root || !existsSync(root)) return null;
  try {
    for (const dev of readdirSync(root)) {
      const dir = join(root, dev);
      const name = join(dir, 'name');
      const alarm = join(dir, 'in0_lcrit_alarm');
      if (existsSync(name) && readFileSync(name, 'utf8').trim() === 'rpi_volt' && existsSync(alarm)) return alarm;
    }
  } catch {
    return null;
  }
  return null;
}
