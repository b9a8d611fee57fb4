/**
 * The broker dies in the middle of a burst of 1,000 alerts and comes back: every alert arrives, in
 * order, and the only repeats are the few that were in flight when it died (QoS 1 allows those).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MqttPublisher } from '../../src/mqtt/publisher.js';
import { startBroker } from '../helpers/mosquitto.js';
import { Collector, captureLog, makeAlert, openSensorDb, testConfig, until } from '../helpers/mqtt-fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('broker SIGKILLed during a burst of 1,000 alerts and restarted: all 1,000 arrive, in order', async () => {
  const TOTAL = 1000;
  const WINDOW = 16;
  const dir = mkdtempSync(join(tmpdir(), 'ja4-outage-'));
  const broker = await startBroker({ persistence: true, holdOthersUntilSubscribed: 'outage-sub' });
  const db = openSensorDb(join(dir, 'sensor.db'));
  const { log, lines } = captureLog();
  // A persistent subscriber, saved by the broker before the burst, as a real consumer would have it:
  // messages published while it reconnects are queued for it rather than lost.
  const sub = await Collector.connect(broker.url, 'sensor/burst/alerts', { clientId: 'outage-sub', clean: false, reconnectPeriod: 50 });
  await broker.save();
  const p = new MqttPublisher({
    config: testConfig(broker.url, 'burst', { max_inflight: WINDOW, reconnect: { min_seconds: 0.1, max_seconds: 0.4 } }),
    sensorId: 'burst',
    db,
    log,
    flushIntervalMs: 25, // exercise alerts moving from memory to the table mid-burst
  });
  try {
    p.start();
    await until(() => p.status().state === 'online', 5000, 'online');

    let killedAfter = -1;
    let enqueuedAtKill = -1;
    let enqueued = 0;
    let restarted = false;
    // 400 at once (a backlog in flight when the broker dies), then paced so the burst is still going
    // while the broker is down.
    const burst = (async () => {
      for (let i = 1; i <= TOTAL; i++) {
        p.enqueue(makeAlert(i, i % 25 === 0 ? 'high' : 'medium', 'burst'));
        enqueued = i;
        if (i >= 400 && i % 10 === 0) await sleep(8);
      }
    })();
    await sub.waitFor((m) => m.length >= 150, 10_000, '150 alerts before the kill');
    await broker.kill('SIGKILL');
    killedAfter = sub.messages.length;
    enqueuedAtKill = enqueued;
    await sleep(500);
    await until(() => p.status().state !== 'online', 2000, 'publisher noticing the outage');
    // Every PUBACK the dead broker sent has been read by now (its socket closed after them).
    const ackedByDeadBroker = p.status().alertsPublished;
    const pendingDuringOutage = p.status().outbox.pending;
    const enqueuedDuringOutage = enqueued - enqueuedAtKill;
    await broker.start();
    restarted = true;
    await burst;

    const seqOf = (payload: string) => JSON.parse(payload).alert.total_seen - 50;
    const all = Array.from({ length: TOTAL }, (_, i) => i + 1);
    await until(() => p.status().outbox.pending === 0, 20_000, 'outbox empty (every alert acknowledged)');
    await sub.waitFor((m) => m.some((x) => seqOf(x.payload) === TOTAL), 5000, 'the last alert');
    await sleep(100);
    const got = new Set(sub.messages.map((m) => seqOf(m.payload)));
    const missing = all.filter((s) => !got.has(s));
    // aedes keeps everything in memory and sends PUBACK before it has written the message to its
    // subscribers, so alerts it acknowledged just before the SIGKILL die with it. That is the broker's
    // loss, not the sensor's; mosquitto forwards before it acknowledges, so with it nothing may go.
    const lostByBroker = broker.kind === 'aedes' ? missing.filter((s) => s > killedAfter && s <= ackedByDeadBroker) : [];
    expect({ missing, killedAfter, ackedByDeadBroker }).toEqual({ missing: lostByBroker, killedAfter, ackedByDeadBroker });

    const seqs = sub.messages.map((m) => seqOf(m.payload));
    const firstSeen: number[] = [];
    const seen = new Set<number>();
    for (const s of seqs) if (!seen.has(s)) (seen.add(s), firstSeen.push(s));
    const duplicates = seqs.length - firstSeen.length;
    expect(restarted).toBe(true);
    expect(enqueuedAtKill).toBeLessThan(TOTAL); // the broker really died mid-burst
    expect(firstSeen).toEqual(all.filter((s) => !lostByBroker.includes(s))); // all, and in order
    // QoS 1's allowance: only alerts in flight at the kill may be delivered twice.
    expect(duplicates).toBeLessThanOrEqual(WINDOW);
    // Each payload is byte-identical to what was enqueued.
    for (const m of sub.messages) expect(m.payload).toBe(JSON.stringify(makeAlert(seqOf(m.payload), seqOf(m.payload) % 25 === 0 ? 'high' : 'medium', 'burst')));

    p.flush();
    expect(db.prepare('SELECT count(*) AS n FROM alert_outbox').get()).toEqual({ n: 0 });
    const c = p.status().outbox;
    process.stdout.write(
      `outage test (${broker.kind}): sent ${TOTAL}, received ${seqs.length} messages, ${firstSeen.length} distinct, ` +
        `${duplicates} duplicate(s); broker killed after ${killedAfter} received / ${enqueuedAtKill} enqueued, ` +
        `${enqueuedDuringOutage} enqueued while it was down, ${pendingDuringOutage} pending then; ` +
        `outbox: ${c.writes} write transactions, ${c.rowsWritten} rows written, ${c.neverWritten} never written; reconnects ${p.status().reconnects}` +
        (lostByBroker.length ? `; aedes lost ${lostByBroker.length} it had acknowledged (${lostByBroker.join(',')})` : '') + '\n',
    );
    expect(lines.some((l) => l.startsWith('warn mqtt: connection to') || l.includes('refused the connection'))).toBe(true);
  } finally {
    await p.stop({ drainMs: 100 });
    await sub.close();
    db.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('after a broker restart the retained status and health are restored by the publisher', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ja4-restore-'));
  const broker = await startBroker(); // no persistence: the restarted broker has forgotten everything
  const db = openSensorDb(join(dir, 'sensor.db'));
  const p = new MqttPublisher({ config: testConfig(broker.url, 'restore'), sensorId: 'restore', db, log: captureLog().log, flushIntervalMs: 0 });
  try {
    p.start();
    await until(() => p.status().state === 'online', 5000, 'online');
    p.publishHealth({ uptime_s: 5 });
    await broker.kill('SIGKILL');
    await until(() => p.status().state !== 'online', 5000, 'offline');
    await broker.start();
    await until(() => p.status().state === 'online', 5000, 'online again');
    const sub = await Collector.connect(broker.url, ['sensor/restore/status', 'sensor/restore/health']);
    await sub.waitFor((m) => m.length >= 2, 5000, 'retained status and health');
    expect(sub.on('sensor/restore/status')).toEqual([{ topic: 'sensor/restore/status', payload: 'online', retain: true }]);
    expect(JSON.parse(sub.on('sensor/restore/health')[0]!.payload)).toEqual({ sensor_id: 'restore', uptime_s: 5 });
    expect(p.status().reconnects).toBe(1);
    await sub.close();
  } finally {
    await p.stop({ drainMs: 100 });
    db.close();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
