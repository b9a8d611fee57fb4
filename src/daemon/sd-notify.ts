/**
 * systemd service notifications (sd_notify): READY once profiles are loaded, WATCHDOG pings while the
 * pipeline makes progress, STOPPING on shutdown. Every call is a no-op outside systemd (no
 * NOTIFY_SOCKET), so the daemon calls them unconditionally.
 *
 * Why a `systemd-notify` child process: the notify socket is a unix *datagram* socket and Node has
 * no API for those (net only does unix streams, dgram only UDP), and a native addon for three
 * messages is not worth a second compiled dependency on the Pi. systemd-notify ships with systemd,
 * and by default it waits on a notification barrier until the manager has processed the message,
 * so the message is still attributed to our unit after the short-lived child exits. Because the
 * sender is a child rather than the main process, the unit needs `NotifyAccess=all`.
 *
 * Cost: one short process per message; the watchdog is fed at most every `watchdogIntervalMs()`
 * (half of WatchdogSec), and a ping is skipped while the previous one is still in flight, so a slow
 * or hung systemd-notify can never pile up children.
 */
import { execFile } from 'node:child_process';

/** Overridable for tests and unusual installs; the image uses the one systemd ships. */
const NOTIFY_BIN = process.env.SENSOR_SYSTEMD_NOTIFY || 'systemd-notify';
/** systemd-notify blocks on the barrier; give up long before a watchdog period passes. */
const NOTIFY_TIMEOUT_MS = 5000;

let watchdogInFlight = false;

/** True when the process runs under a systemd unit that accepts notifications. */
export function notifyEnabled(): boolean {
  return Boolean(process.env.NOTIFY_SOCKET);
}

/**
 * How often to feed the watchdog, in ms: half of the unit's WatchdogSec (as sd_watchdog_enabled(3)
 * advises), or null when no watchdog is configured for this process.
 */
export function watchdogIntervalMs(): number | null {
  const usec = Number(process.env.WATCHDOG_USEC);
  if (!notifyEnabled() || !Number.isFinite(usec) || usec <= 0) return null;
  const pid = process.env.WATCHDOG_PID;
  if (pid && Number(pid) !== process.pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/** Sends raw `KEY=VALUE` assignments; resolves true once systemd has processed them. */
export function notify(...assignments: string[]): Promise<boolean> {
  if (!notifyEnabled() || assignments.length === 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    execFile(NOTIFY_BIN, assignments, { timeout: NOTIFY_TIMEOUT_MS, env: process.env }, (err) => {
      if (err) process.stderr.write(`sd-notify: ${NOTIFY_BIN} ${assignments.join(' ')} failed: ${err.message.split('\n')[0]}\n`);
      resolve(!err);
    });
  });
}

/** Startup finished (profiles loaded, capture running); optional status text for `systemctl status`. */
export function notifyReady(status?: string): Promise<boolean> {
  return notify('READY=1', ...(status ? [`STATUS=${oneLine(status)}`] : []));
}

/** Free-form status line shown by `systemctl status`. */
export function notifyStatus(status: string): Promise<boolean> {
  return notify(`STATUS=${oneLine(status)}`);
}

/**
 * Feeds the watchdog. Call it only after checking that the pipeline made progress since the last
 * call: a stuck pipeline must starve the watchdog so that systemd restarts the service.
 */
export function notifyWatchdog(): Promise<boolean> {
  if (!notifyEnabled() || watchdogInFlight) return Promise.resolve(false);
  watchdogInFlight = true;
  return notify('WATCHDOG=1').finally(() => {
    watchdogInFlight = false;
  });
}

/** Shutdown has begun (final flush in progress). */
export function notifyStopping(status?: string): Promise<boolean> {
  return notify('STOPPING=1', ...(status ? [`STATUS=${oneLine(status)}`] : []));
}

function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').slice(0, 200);
}
