/**
 * FoxIO conformance: every expected JA4+ fingerprint of the 37 shared reference captures must be
 * matched by `sensorctl fingerprint`, through the shared checker. Skipped (with a message) on a clone
 * without ../shared/conformance.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT, SENSORCTL, requireBuild, runNode } from '../helpers/subprocess.js';

const checker = path.join(ROOT, '../shared/conformance/check.mjs');
const present = existsSync(checker);
// Straight to stderr: jest holds back the console of a file whose tests are all skipped.
if (!present) process.stderr.write(`conformance test skipped: ${checker} not found (the shared conformance suite sits beside the checkout in CI)\n`);

(present ? test : test.skip)('sensorctl fingerprint matches every reference fingerprint of the shared captures', async () => {
  requireBuild();
  const human = await runNode(checker, ['--cmd', `${process.execPath} ${SENSORCTL} fingerprint`], { timeoutMs: 240_000 });
  // The table and any misses, in the test log for whoever reads a failure.
  // eslint-disable-next-line no-console
  console.log(human.stdout.split('\n').filter((l) => !l.startsWith('…')).slice(-14).join('\n'));
  expect(human.stdout).toMatch(/conformance: (\d+)\/\1 expected fingerprints matched/);
  expect(human.stdout).toMatch(/, 0 command failures/);
  expect(human.code).toBe(0);
}, 300_000);
