/** The human-readable end-of-run summary (`sensord --summary`, used by the README's demo). */
import type { DaemonSummary } from './daemon.js';

export function printSummary(s: DaemonSummary, out: NodeJS.WritableStream): void {
  const lines: string[] = [];
  lines.push('');
  lines.push(`── summary ──────────────────────────────────────────────`);
  lines.push(`source       ${s.source}: ${s.frames} packets, ${(s.bytes / 1e6).toFixed(1)} MB, ${s.connections} connections, ${s.seconds.toFixed(2)} s`);
  const types = Object.keys(s.fingerprints).sort();
  lines.push(`fingerprints ${types.length === 0 ? 'none' : types.map((t) => `${t} ${s.fingerprints[t].count} (${s.fingerprints[t].distinct} distinct)`).join(', ')}`);
  lines.push(`profiles     ${s.profileRows} rows over ${s.anchors} anchors, from ${s.observations} observations, stored in ${s.dbPath}`);
  if (s.lastFlush) {
    lines.push(`last flush   ${s.lastFlush.ok ? 'ok' : `FAILED: ${s.lastFlush.error}`}: ${s.lastFlush.rows} ${s.lastFlush.rows === 1 ? 'row' : 'rows'}, ${s.lastFlush.alerts} ${s.lastFlush.alerts === 1 ? 'alert' : 'alerts'}, ${s.lastFlush.bytes} bytes written`);
  }
  lines.push(`alerts       ${s.alerts.length}`);
  for (const a of s.alerts.slice(0, 10)) {
    lines.push(`  [${a.alert.severity}] ${a.alert.message}`);
  }
  lines.push(`sensor id    ${s.sensorId}`);
  lines.push(`see them     sensorctl export-profiles --db ${s.dbPath}`);
  out.write(`${lines.join('\n')}\n`);
}
