/**
 * The daemon runs the engine with `details: false` (records without the reference tool's extra
 * fields). That switch must change nothing but the extras: same records, same values, same frames.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptureReader } from '../../src/capture/capture-reader.js';
import { FingerprintEngine } from '../../src/fingerprint/engine.js';
import type { FingerprintRecord } from '../../src/fingerprint/record.js';
import { ja4x } from '../../src/fingerprint/ja4x.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const demo = path.join(here, '../fixtures/demo.pcap');
const shared = path.join(here, '../../../shared/conformance/foxio/pcap');
// Certificates (JA4X), SSH (JA4SSH with HASSH extras) and HTTP: captures of the shared suite.
const sharedCaptures = ['ssh2.pcapng', 'latest.pcapng', 'http1.pcapng'].map((f) => path.join(shared, f));
const sharedPresent = sharedCaptures.every((f) => existsSync(f));
if (!sharedPresent) process.stderr.write(`engine-details: shared captures not found under ${shared}; only the project's demo capture is checked\n`);

function fingerprints(file: string, details: boolean): FingerprintRecord[] {
  const out: FingerprintRecord[] = [];
  const engine = new FingerprintEngine((r) => out.push(r), { details });
  const reader = new CaptureReader((f) => engine.handleFrame(f), (type, data) => engine.addSecrets(type, data));
  reader.push(readFileSync(file));
  reader.end();
  engine.finish();
  return out;
}

const BASE_FIELDS = ['type', 'value', 'frame', 'transport', 'src', 'src_port', 'dst', 'dst_port'];

describe('engine details switch', () => {
  const files = [demo, ...(sharedPresent ? sharedCaptures : [])];

  test.each(files)('%s: same records and values without the extra fields', (file) => {
    const full = fingerprints(file, true);
    const lean = fingerprints(file, false);
    expect(lean.length).toBeGreaterThan(0);
    expect(lean.map((r) => [r.type, r.value, r.frame, r.src, r.src_port])).toEqual(full.map((r) => [r.type, r.value, r.frame, r.src, r.src_port]));
    for (const r of lean) expect(Object.keys(r).filter((k) => !BASE_FIELDS.includes(k))).toEqual([]);
    // The full records do carry the extras (so the comparison above is not vacuous).
    expect(full.some((r) => Object.keys(r).some((k) => !BASE_FIELDS.includes(k)))).toBe(true);
  });

  test('ja4x without details gives the same fingerprint, no raw form and no names', () => {
    const der = readFileSync(path.join(here, '../fixtures/tls/selfsigned-ec.der'));
    const full = ja4x(der)!;
    const lean = ja4x(der, false)!;
    expect(lean.ja4x).toBe(full.ja4x);
    expect(full.ja4x_r.length).toBeGreaterThan(0);
    expect(Object.keys(full.names).length).toBeGreaterThan(0);
    expect(lean.ja4x_r).toBe('');
    expect(lean.names).toEqual({});
  });
});
