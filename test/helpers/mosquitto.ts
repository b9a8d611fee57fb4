/**
 * A real MQTT broker for tests: mosquitto on a free loopback port with a temporary config, or, where
 * no mosquitto binary exists (or MQTT_TEST_BROKER=aedes), the aedes broker in a child node process.
 * Either way the broker is a separate process, so tests can SIGKILL it and start it again.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { createServer, connect as tcpConnect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type BrokerKind = 'mosquitto' | 'aedes';

export interface BrokerOptions {
  /** username → password; when given, anonymous clients are refused. */
  users?: Record<string, string>;
  /** TLS on the main listener (mqtts://). */
  tls?: { caFile: string; certFile: string; keyFile: string; requireCertificate?: boolean };
  /** Adds a websocket listener (ws://). */
  websockets?: boolean;
  /** Keep sessions and subscriptions across restarts (mosquitto: persistence file, saved on save()). */
  persistence?: boolean;
  /**
   * aedes only (it has no persistence): after a restart, other clients' CONNECTs wait until this
   * client id has subscribed again. With mosquitto, persistence + save() does the same job.
   */
  holdOthersUntilSubscribed?: string;
  /** This broker rather than the default (brokerKind()). */
  kind?: BrokerKind;
  /**
   * mosquitto only: max_queued_messages (default 0, unlimited, see below). mosquitto 2.0.11 drops an
   * MQTT 5 client the moment it refuses one of its publishes when this is 0, so the ACL test uses 1000.
   */
  maxQueued?: number;
  /** mosquitto only: the acl_file's text (setAcl() changes it and makes the broker reload it). */
  acl?: string;
}

export interface Broker {
  kind: BrokerKind;
  port: number;
  url: string;
  wsUrl?: string;
  dir: string;
  /** Whether the broker process is running. */
  running(): boolean;
  /** (Re)starts on the same port(s) and waits until it accepts connections. */
  start(): Promise<void>;
  /** Sends a signal (default SIGKILL) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Writes sessions/subscriptions to disk now, so a SIGKILLed broker comes back with them. */
  save(): Promise<void>;
  /** Stops the broker and removes its directory. */
  close(): Promise<void>;
  log(): string;
  /** mosquitto with `acl` only: rewrites the ACL file and reloads it (SIGHUP). */
  setAcl(text: string): Promise<void>;
}

const MOSQUITTO = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => existsSync(p));
const HERE = dirname(fileURLToPath(import.meta.url));

export function brokerKind(): BrokerKind {
  if (process.env.MQTT_TEST_BROKER === 'aedes') return 'aedes';
  return MOSQUITTO ? 'mosquitto' : 'aedes';
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('broker exited during start-up');
    const ok = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`broker did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export async function startBroker(opts: BrokerOptions = {}): Promise<Broker> {
  const kind = opts.kind ?? brokerKind();
  const dir = mkdtempSync(join(tmpdir(), `ja4-${kind}-`));
  const port = await freePort();
  const wsPort = opts.websockets ? await freePort() : undefined;
  const scheme = opts.tls ? 'mqtts' : 'mqtt';
  let child: ChildProcess | null = null;
  let output = '';
  let args: string[];
  let command: string;

  if (kind === 'mosquitto') {
    const lines = [`listener ${port} 127.0.0.1`];
    if (opts.tls) {
      lines.push(`cafile ${opts.tls.caFile}`, `certfile ${opts.tls.certFile}`, `keyfile ${opts.tls.keyFile}`);
      if (opts.tls.requireCertificate) lines.push('require_certificate true', 'use_identity_as_username true');
    }
    if (wsPort) lines.push(`listener ${wsPort} 127.0.0.1`, 'protocol websockets');
    if (opts.users) {
      const passwd = join(dir, 'passwd');
      writeFileSync(passwd, '', { mode: 0o600 });
      for (const [user, pass] of Object.entries(opts.users)) {
        const r = spawnSync('mosquitto_passwd', ['-b', passwd, user, pass]);
        if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
      }
      lines.push('allow_anonymous false', `password_file ${passwd}`);
    } else if (!opts.tls?.requireCertificate) {
      lines.push('allow_anonymous true');
    }
    // Unlimited in-flight and queued messages: the broker forwards every message to subscribers as it
    // arrives, so nothing it has acknowledged sits only in its memory when a test kills it.
    lines.push('max_inflight_messages 0', `max_queued_messages ${opts.maxQueued ?? 0}`);
    if (opts.acl !== undefined) {
      writeFileSync(join(dir, 'acl'), opts.acl);
      lines.push(`acl_file ${join(dir, 'acl')}`);
    }
    if (opts.persistence) lines.push('persistence true', `persistence_location ${dir}/`, 'autosave_interval 0');
    lines.push(`user ${userInfo().username}`, 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice');
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(conf, lines.join('\n') + '\n');
    command = MOSQUITTO!;
    args = ['-c', conf];
  } else {
    command = process.execPath;
    args = [join(HERE, 'aedes-broker.mjs'), JSON.stringify({ port, wsPort, users: opts.users, tls: opts.tls, holdOthersUntilSubscribed: opts.holdOthersUntilSubscribed })];
  }

  const broker: Broker = {
    kind,
    port,
    dir,
    url: `${scheme}://127.0.0.1:${port}`,
    ...(wsPort ? { wsUrl: `ws://127.0.0.1:${wsPort}` } : {}),
    running: () => child !== null && child.exitCode === null && child.signalCode === null,
    async start() {
      if (broker.running()) return;
      child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      try {
        await waitForPort(port, child);
        if (wsPort) await waitForPort(wsPort, child);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${output}`);
      }
    },
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      const c = child;
      if (!c || !broker.running()) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill(signal);
      await exited;
    },
    async save() {
      if (kind !== 'mosquitto' || !opts.persistence || !child) return;
      const db = join(dir, 'mosquitto.db');
      const before = existsSync(db) ? statSync(db).mtimeMs : 0;
      child.kill('SIGUSR1');
      const deadline = Date.now() + 5000;
      while (!(existsSync(db) && statSync(db).mtimeMs !== before)) {
        if (Date.now() > deadline) throw new Error('mosquitto did not write its persistence file');
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 50));
    },
    async close() {
      await broker.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => output,
    async setAcl(text: string) {
      if (kind !== 'mosquitto' || opts.acl === undefined || !child) throw new Error('setAcl needs mosquitto started with an acl');
      writeFileSync(join(dir, 'acl'), text);
      child.kill('SIGHUP');
      await new Promise((r) => setTimeout(r, 300)); // mosquitto reloads in its next loop turn
    },
  };
  await broker.start();
  return broker;
}
