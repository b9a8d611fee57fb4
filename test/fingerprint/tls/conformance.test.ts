/**
 * JA4, JA4S and JA4X of every shared conformance capture against FoxIO's reference output, run in
 * process through the real capture reader and engine with just the TLS and QUIC analyzers.
 * Skipped (with a message) when ../shared/conformance is not beside the repository.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join, resolve } from 'node:path';
import { CaptureRun } from '../../../src/capture/source.js';
import { FingerprintEngine } from '../../../src/fingerprint/engine.js';
import { createTlsAnalyzer } from '../../../src/fingerprint/tls/analyzer.js';
import { createQuicAnalyzer } from '../../../src/fingerprint/quic/analyzer.js';
import type { FingerprintRecord } from '../../../src/fingerprint/record.js';

const cases = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../shared/conformance/foxio');
const present = existsSync(join(cases, 'pcap'));
// Straight to stderr: jest holds back the console of a file whose tests are all skipped.
if (!present) process.stderr.write(`TLS conformance test skipped: ${cases} not found (the shared conformance captures are not beside the repository)\n`);

interface Ref {
  transport: string; src: string; src_port: number; dst: string; dst_port: number;
  ja4?: string; ja4s?: string; tls_certs?: { x509?: { ja4x?: string }[] }[];
}

const key = (type: string, value: string, r: { transport: string; src: string; src_port: number; dst: string; dst_port: number }) =>
  `${type}|${value}|${r.transport}|${r.src}|${r.src_port}|${r.dst}|${r.dst_port}`;

async function fingerprint(path: string): Promise<FingerprintRecord[]> {
  const out: FingerprintRecord[] = [];
  const engine = new FingerprintEngine((r) => out.push(r), { factories: [createTlsAnalyzer, createQuicAnalyzer] });
  const run = new CaptureRun({ kind: 'file', path }, (f) => engine.handleFrame(f), (t, d) => engine.addSecrets(t, d));
  await run.done;
  engine.finish();
  return out;
}

(present ? describe : describe.skip)('JA4 / JA4S / JA4X conformance', () => {
  const files = present ? readdirSync(join(cases, 'pcap')).sort() : [];
  test.each(files)('%s', async (file) => {
    const refPath = join(cases, 'expected', `${file}.json`);
    const refs: Ref[] = existsSync(refPath) ? JSON.parse(readFileSync(refPath, 'utf8')) : [];
    const expected = new Set<string>();
    for (const r of refs) {
      if (r.ja4) expected.add(key('ja4', r.ja4, r));
      if (r.ja4s) expected.add(key('ja4s', r.ja4s, r));
      for (const c of r.tls_certs ?? []) for (const x of c.x509 ?? []) if (x.ja4x) expected.add(key('ja4x', x.ja4x, r));
    }
    const got = new Set((await fingerprint(join(cases, 'pcap', file))).map((r) => key(r.type, r.value, r)));
    const missing = [...expected].filter((k) => !got.has(k));
    expect(missing).toEqual([]);
  });
});
