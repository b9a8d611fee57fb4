// Preloaded into a benchmarked process (node --import): at exit, writes its peak RSS (KiB) to $RSS_PROBE_OUT.
import fs from 'node:fs';

const out = process.env.RSS_PROBE_OUT;
if (out) process.on('exit', () => fs.writeFileSync(out, String(process.resourceUsage().maxRSS)));
