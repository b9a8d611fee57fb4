/**
 * The appliance's systemd units: sensord's sandbox is scored by systemd's own analyzer (offline,
 * where systemd-analyze exists), and the properties the design relies on are checked in the files.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(process.cwd(), 'systemd');
const read = (name: string) => readFileSync(join(dir, name), 'utf8');
/** Values of KEY= in a unit file, in order (empty assignments included). */
const values = (text: string, key: string) =>
  text.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1).trim());

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const itAnalyze = hasAnalyze ? it : it.skip;
if (!hasAnalyze) console.warn('systemd-analyze not installed: exposure checks skipped');

function exposure(unit: string): number {
  const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', join(dir, unit)], { encoding: 'utf8' });
  const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(r.stdout + r.stderr);
  if (!m) throw new Error(`no exposure in systemd-analyze output:\n${r.stdout}${r.stderr}`);
  return Number(m[1]);
}

describe('sensord.service', () => {
  const unit = read('sensord.service');

  itAnalyze('has a systemd-analyze security exposure of at most 3.0', () => {
    const score = exposure('sensord.service');
    console.log(`systemd-analyze security --offline=true sensord.service: ${score}`);
    expect(score).toBeLessThanOrEqual(3.0);
  });

  it('runs unprivileged with no capabilities at all', () => {
    expect(values(unit, 'User')).toEqual(['sensor']);
    expect(values(unit, 'CapabilityBoundingSet')).toEqual(['']);
    expect(values(unit, 'AmbientCapabilities')).toEqual(['']);
    expect(values(unit, 'NoNewPrivileges')).toEqual(['yes']);
    expect(values(unit, 'RestrictAddressFamilies')[0]).not.toMatch(/AF_PACKET/);
  });

  it('declares its directories, restarts on failure, has a watchdog and waits for READY', () => {
    expect(values(unit, 'StateDirectory')).toEqual(['sensor']);
    expect(values(unit, 'RuntimeDirectory')).toEqual(['sensor']);
    expect(values(unit, 'ConfigurationDirectory')).toEqual(['sensor']);
    expect(values(unit, 'Restart')).toEqual(['on-failure']);
    expect(values(unit, 'Type')).toEqual(['notify']);
    expect(values(unit, 'NotifyAccess')).toEqual(['all']); // systemd-notify is a child process
    expect(values(unit, 'WatchdogSec')).toHaveLength(1);
    for (const key of ['ProtectSystem', 'ProtectHome', 'PrivateTmp', 'MemoryMax', 'SystemCallFilter']) {
      expect(values(unit, key).length).toBeGreaterThan(0);
    }
    expect(values(unit, 'ProtectSystem')).toEqual(['strict']);
  });

  it('captures through the socket-activated helper', () => {
    expect(values(unit, 'Environment')).toContain('SENSOR_TCPDUMP=/opt/sensor/scripts/image-capture-client');
    expect(values(unit, 'Wants').join(' ')).toMatch(/sensor-capture\.socket/);
  });
});

describe('sensor-capture', () => {
  const service = read('sensor-capture@.service');
  const socket = read('sensor-capture.socket');

  it('gives only tcpdump CAP_NET_RAW (and CAP_NET_ADMIN), as user sensor', () => {
    expect(values(service, 'User')).toEqual(['sensor']);
    expect(values(service, 'AmbientCapabilities')).toEqual(['CAP_NET_RAW CAP_NET_ADMIN']);
    expect(values(service, 'CapabilityBoundingSet')).toEqual(['CAP_NET_RAW CAP_NET_ADMIN']);
    expect(values(service, 'ExecStart')).toEqual(['/opt/sensor/scripts/image-capture-server']);
    expect(values(service, 'StandardOutput')).toEqual(['socket']);
  });

  it('accepts connections from group sensor only', () => {
    expect(values(socket, 'Accept')).toEqual(['yes']);
    expect(values(socket, 'SocketGroup')).toEqual(['sensor']);
    expect(values(socket, 'SocketMode')).toEqual(['0660']);
  });

  itAnalyze('is sandboxed too (exposure at most 3.0)', () => {
    expect(exposure('sensor-capture@.service')).toBeLessThanOrEqual(3.0);
  });
});

describe('USB seed wiring', () => {
  it('the udev rule only tags the device and asks systemd for the unit', () => {
    const rules = read('udev/90-sensor-usb-seed.rules').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    expect(rules).toHaveLength(1);
    expect(rules[0]).not.toMatch(/RUN/);
    expect(rules[0]).toMatch(/TAG\+="systemd"/);
    expect(rules[0]).toMatch(/ENV\{SYSTEMD_WANTS\}\+="sensor-usb-seed@%k\.service"/);
  });

  it('the unit runs scripts/usb-seed for the device and logs to journal and console', () => {
    const unit = read('sensor-usb-seed@.service');
    expect(values(unit, 'ExecStart')).toEqual(['/opt/sensor/scripts/usb-seed /dev/%I']);
    expect(values(unit, 'StandardOutput')).toEqual(['journal+console']);
    expect(values(unit, 'RuntimeDirectory')).toEqual(['sensor-usb/%i']);
  });
});

describe('users and directories', () => {
  it('sysusers.d creates the sensor user, tmpfiles.d its directories', () => {
    expect(read('sysusers.d/sensor.conf')).toMatch(/^u sensor /m);
    const tmp = read('tmpfiles.d/sensor.conf');
    expect(tmp).toMatch(/^d \/var\/lib\/sensor\s+0750 sensor sensor/m);
    expect(tmp).toMatch(/^z \/etc\/sensor\/sensor\.yaml\s+0640 root\s+sensor/m);
  });
});
