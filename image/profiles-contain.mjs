#!/usr/bin/env node
// profiles-contain.mjs HAVE.jsonl WANT.jsonl — exit 0 when every profile in WANT (sensorctl
// export-profiles JSON lines) is also in HAVE. A profile is identified by its string fields
// (anchor, companion, method names...), so counts that grew by merging or seeding still match;
// timestamps are ignored.
import fs from 'node:fs';

const load = (file) => fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
const identity = (p) => JSON.stringify(
  Object.keys(p).sort()
    .filter((k) => typeof p[k] === 'string' && !/(_at|time|ts|first|last|seen)$/i.test(k))
    .map((k) => [k, p[k]]),
);
const [haveFile, wantFile] = process.argv.slice(2);
const have = new Set(load(haveFile).map(identity));
const want = load(wantFile);
const missing = want.filter((p) => !have.has(identity(p)));
if (missing.length) {
  console.error(`profiles-contain: ${missing.length} of ${want.length} profiles of ${wantFile} missing from ${haveFile}, e.g. ${JSON.stringify(missing[0])}`);
  process.exit(1);
}
console.error(`profiles-contain: all ${want.length} profiles of ${wantFile} present in ${haveFile}`);
