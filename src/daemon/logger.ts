/**
 * Log lines on stderr. Under systemd (JOURNAL_STREAM set) each line starts with the syslog
 * priority in angle brackets, which journald turns into the entry's level.
 */
import type { Logger, LogLevel } from '../storage/db.js';

const PRIORITY: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 };
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

function formatValue(v: unknown): string {
  if (typeof v === 'string') return v.includes(' ') || v === '' ? JSON.stringify(v) : v;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  return JSON.stringify(v);
}

export function createLogger(name: string, minLevel: LogLevel = 'info', stream: NodeJS.WritableStream = process.stderr): Logger {
  const journal = process.env.JOURNAL_STREAM !== undefined;
  return (level, message, fields) => {
    if (RANK[level] < RANK[minLevel]) return;
    let line = journal ? `<${PRIORITY[level]}>${message}` : `${name}: ${level}: ${message}`;
    if (fields) {
      for (const [k, v] of Object.entries(fields)) {
        if (v !== undefined) line += ` ${k}=${formatValue(v)}`;
      }
    }
    stream.write(`${line}\n`);
  };
}
