#!/usr/bin/env node
/**
 * Flow-state bound under a connection flood (issue 3): a synthesised capture opens a million TCP
 * connections whose handshakes never complete (SYN only), and the last `--hoarders` of them also
 * send out-of-order data segments that never fill their hole, so their reassembly queues fill to
 * the per-stream cap. It is fed through the real reader and engine (dist/), and we print peak RSS,
 * flows tracked and evicted, and the reassembly bytes held, beside a baseline from the same run:
 * the same bytes walked only to the pcap record level.
 *
 *   npm run bench:flows                       # builds, then runs with the defaults below
 *   node bench/flows.mjs --connections 200000 --hoarders 5000 --max-rss-mb 200
 *
 * Each measurement runs in its own child process so that its peak RSS is its own.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const DEFAULTS = {
  connections: 1_000_000,
  /** The last N connections send out-of-order segments (N = the default flow cap: the table ends full of them). */
  hoarders: 20_000,
  segments: 16,
  /** GRO/TSO-sized segments, as a capture taken on a host sees them; 16 × 16 KiB = the 256 KiB per-stream cap. */
  segmentBytes: 16384,
  /** New connections per second of capture time (50 s for a million: well inside the idle timeout). */
  rate: 20_000,
  /** The stated bound; the run fails (exit 1) above it. */
  maxRssMb: 256,
  /** V8 flags for the measured processes, e.g. "--max-semi-space-size=2" (default: none, as sensord runs). */
  nodeFlags: '',
};

function parseArgs(argv) {
  const opts = { ...DEFAULTS, mode: 'parent' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const key = a.replace(/^--/, '').replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in opts)) throw new Error(`unknown option ${a} (options: ${Object.keys(DEFAULTS).map((k) => '--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())).join(' ')})`);
    const v = argv[++i];
    opts[key] = key === 'mode' || key === 'nodeFlags' ? v : Number(v);
    if (typeof opts[key] === 'number' && !Number.isFinite(opts[key])) throw new Error(`${a} needs a number`);
  }
  return opts;
}

// ------------------------------------------------------------------ capture synthesis

const T0_SEC = 1_704_067_200;
const SYN_OPTIONS = Buffer.from([2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]);

/**
 * Yields pcap chunks (about 1 MiB, whole records only) of the flood. One buffer is reused for every
 * chunk: the reader keeps no view past push(), and the engine copies what it queues.
 */
function* floodChunks(o) {
  const chunk = Buffer.alloc(2 << 20, 0x41);
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0);
  header.writeUInt16LE(2, 4);
  header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16);
  header.writeUInt32LE(1, 20);
  yield header;
  let off = 0;
  const record = (tsUs, ipPayloadLen, fill) => {
    const frameLen = 14 + 20 + ipPayloadLen;
    if (off + 16 + frameLen > chunk.length) {
      const out = chunk.subarray(0, off);
      off = 0;
      return out;
    }
    const sec = Math.floor(tsUs / 1e6);
    chunk.writeUInt32LE(sec, off);
    chunk.writeUInt32LE(tsUs - sec * 1e6, off + 4);
    chunk.writeUInt32LE(frameLen, off + 8);
    chunk.writeUInt32LE(frameLen, off + 12);
    fill(off + 16);
    off += 16 + frameLen;
    return null;
  };
  const firstHoarder = o.connections - o.hoarders;
  for (let i = 0; i < o.connections; i++) {
    const tsUs = T0_SEC * 1e6 + Math.floor((i * 1e6) / o.rate);
    const isn = (Math.imul(i, 2654435761) >>> 0);
    const cport = 1024 + ((i * 7) % 64000);
    const server = 1 + (i % 16);
    const ipFill = (p, totalLen) => {
      // Ethernet
      chunk.writeUInt32BE(0x02000000, p); chunk.writeUInt16BE(0x0002, p + 4);
      chunk.writeUInt32BE(0x02000000, p + 6); chunk.writeUInt16BE(0x0001, p + 10);
      chunk.writeUInt16BE(0x0800, p + 12);
      // IPv4: 10.a.b.c -> 192.0.2.server
      const ip = p + 14;
      chunk[ip] = 0x45; chunk[ip + 1] = 0;
      chunk.writeUInt16BE(totalLen, ip + 2);
      chunk.writeUInt32BE(0x00004000, ip + 4);
      chunk[ip + 8] = 64; chunk[ip + 9] = 6; chunk.writeUInt16BE(0, ip + 10);
      chunk[ip + 12] = 10; chunk[ip + 13] = (i >> 16) & 0xff; chunk[ip + 14] = (i >> 8) & 0xff; chunk[ip + 15] = i & 0xff;
      chunk[ip + 16] = 192; chunk[ip + 17] = 0; chunk[ip + 18] = 2; chunk[ip + 19] = server;
      return ip + 20;
    };
    const tcpFill = (t, seq, flags, optLen) => {
      chunk.writeUInt16BE(cport, t);
      chunk.writeUInt16BE(443, t + 2);
      chunk.writeUInt32BE(seq >>> 0, t + 4);
      chunk.writeUInt32BE(0, t + 8);
      chunk[t + 12] = ((20 + optLen) / 4) << 4;
      chunk[t + 13] = flags;
      chunk.writeUInt16BE(64240, t + 14);
      chunk.writeUInt32BE(0, t + 16);
    };
    const packets = [() => {
      const syn = (p) => { const t = ipFill(p, 20 + 20 + SYN_OPTIONS.length); tcpFill(t, isn, 0x02, SYN_OPTIONS.length); SYN_OPTIONS.copy(chunk, t + 20); };
      return record(tsUs, 20 + SYN_OPTIONS.length, syn);
    }];
    if (i >= firstHoarder) {
      // Descending sequence numbers after a hole at ISN+1 that never fills.
      for (let k = o.segments; k >= 1; k--) {
        packets.push(() => record(tsUs + (o.segments - k + 1), 20 + o.segmentBytes, (p) => {
          const t = ipFill(p, 20 + 20 + o.segmentBytes);
          tcpFill(t, isn + 1 + k * o.segmentBytes, 0x18, 0);
        }));
      }
    }
    for (const make of packets) {
      let full = make();
      if (full !== null) {
        yield full;
        full = make();
      }
    }
  }
  if (off > 0) yield chunk.subarray(0, off);
}

// ------------------------------------------------------------------ child measurements

async function measure(o) {
  const { CaptureReader } = await import(join(root, 'dist/capture/capture-reader.js'));
  let engine = null;
  let onFrame = () => {};
  if (o.mode === 'engine') {
    const { FingerprintEngine } = await import(join(root, 'dist/fingerprint/engine.js'));
    engine = new FingerprintEngine(() => {});
    onFrame = (f) => engine.handleFrame(f);
  }
  const reader = new CaptureReader(onFrame);
  let peakSampled = 0;
  let peakFlows = 0;
  let bytes = 0;
  let n = 0;
  const started = process.hrtime.bigint();
  for (const chunk of floodChunks(o)) {
    reader.push(chunk);
    bytes += chunk.length;
    if ((++n & 15) === 0) {
      peakSampled = Math.max(peakSampled, process.memoryUsage().rss);
      if (engine) peakFlows = Math.max(peakFlows, engine.flows.size);
    }
  }
  reader.end();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const result = {
    mode: o.mode,
    packets: reader.framesRead,
    bytes,
    seconds,
    peakRssBytes: Math.max(peakSampled, process.resourceUsage().maxRSS * 1024),
  };
  if (engine) {
    const table = engine.flows;
    let buffered = 0;
    let streams = 0;
    for (const flow of table.all()) {
      for (const s of flow.streams) if (s) { streams++; buffered += s.bufferedBytes; }
    }
    Object.assign(result, {
      flowsTracked: table.size,
      peakFlows: Math.max(peakFlows, table.size),
      evictedForCap: table.evictedForCap,
      evictedIdle: table.evictedIdle,
      streams,
      reassemblyBytesBuffered: buffered,
      reassemblyBudgetBytes: engine.reassemblyBudget?.maxBytes ?? null,
    });
    // What the state itself holds, garbage aside.
    globalThis.gc?.();
    result.retainedHeapBytes = process.memoryUsage().heapUsed;
    result.rssAfterGcBytes = process.memoryUsage().rss;
    engine.finish();
  }
  process.stdout.write(JSON.stringify(result) + '\n');
}

// ------------------------------------------------------------------ parent: run both, print

function nodeFlags(o) {
  return o.nodeFlags.split(/\s+/).filter((f) => f !== '');
}

function runChild(o, mode) {
  const args = ['--expose-gc', ...nodeFlags(o), fileURLToPath(import.meta.url), '--mode', mode];
  for (const k of Object.keys(DEFAULTS)) {
    if (k !== 'nodeFlags') args.push('--' + k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase()), String(o[k]));
  }
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) {
    process.stderr.write(r.stderr);
    throw new Error(`${mode} run failed (status ${r.status}${r.signal ? `, signal ${r.signal}` : ''})`);
  }
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const mb = (b) => (b / 1048576).toFixed(1);
const fmt = (n) => n.toLocaleString('en-US');

function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.mode !== 'parent') return measure(o);
  if (!existsSync(join(root, 'dist/fingerprint/engine.js'))) {
    console.error('dist/ is missing: run `npm run build` first (or `npm run bench:flows`, which builds).');
    process.exit(2);
  }
  console.log(`flows bench: ${fmt(o.connections)} TCP connections that never complete their handshakes (SYN only, ${fmt(o.rate)}/s of capture time);`);
  console.log(`the last ${fmt(o.hoarders)} also send ${o.segments} out-of-order ${fmt(o.segmentBytes)}-byte segments after a hole that never fills.`);
  const base = runChild(o, 'baseline');
  const eng = runChild(o, 'engine');
  const row = (name, r) => `${name.padEnd(26)}${fmt(r.packets).padStart(11)}${mb(r.bytes).padStart(10)}${r.seconds.toFixed(2).padStart(9)}${fmt(Math.round(r.packets / r.seconds)).padStart(12)}${mb(r.peakRssBytes).padStart(11)}`;
  console.log(`${''.padEnd(26)}${'packets'.padStart(11)}${'MB'.padStart(10)}${'seconds'.padStart(9)}${'packets/s'.padStart(12)}${'peak RSS MB'.padStart(12)}`);
  console.log(row('record walk (baseline)', base));
  console.log(row('reader + engine', eng));
  console.log(`engine rate / record-walk rate: ${((eng.packets / eng.seconds) / (base.packets / base.seconds) * 100).toFixed(1)}%`);
  console.log(`flows tracked at end: ${fmt(eng.flowsTracked)} (peak ${fmt(eng.peakFlows)}); evicted at the cap: ${fmt(eng.evictedForCap)}; evicted idle: ${fmt(eng.evictedIdle)}`);
  console.log(`reassembly: ${fmt(eng.streams)} streams hold ${mb(eng.reassemblyBytesBuffered)} MB out-of-order bytes` +
    (eng.reassemblyBudgetBytes ? ` (engine budget ${mb(eng.reassemblyBudgetBytes)} MB)` : ' (no engine-wide budget)'));
  console.log(`engine heap retained after a full GC at the end: ${mb(eng.retainedHeapBytes)} MB (the rest of the RSS is V8's collection slack)`);
  if (o.nodeFlags) console.log(`node flags: ${o.nodeFlags}`);
  const ok = eng.peakRssBytes <= o.maxRssMb * 1048576;
  console.log(`peak RSS ${mb(eng.peakRssBytes)} MB, stated cap ${o.maxRssMb} MB: ${ok ? 'within' : 'EXCEEDED'}`);
  if (!ok) process.exitCode = 1;
}

await main();
