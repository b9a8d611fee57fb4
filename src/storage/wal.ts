/**
 * Checkpointing and write accounting for the WAL.
 *
 * Bytes written to the database files are computed from SQLite's own frame counters rather than
 * guessed: `PRAGMA wal_checkpoint` reports the frames in the WAL and how many have been copied back
 * into the database file. Between two calls, new frames were appended (page size + 24-byte frame
 * header each) and newly checkpointed pages were written into the main file. When the WAL was
 * restarted from its beginning in between (its header's checkpoint sequence and salts change), the
 * counters started again from zero.
 */
import fs from 'node:fs';
import type Database from 'better-sqlite3';

export const WAL_FRAME_HEADER = 24;
export const WAL_HEADER = 32;

export interface WalWrite {
  /** Frames appended to the WAL since the previous measurement. */
  walFrames: number;
  /** Pages copied from the WAL into the database file since the previous measurement. */
  checkpointedPages: number;
  /** Bytes written to the WAL and the database file. */
  bytes: number;
  /** The checkpoint could not copy every frame (a reader holds an older snapshot). */
  busy: boolean;
  /** WAL file size after the checkpoint. */
  walFileBytes: number;
  /** The WAL was truncated because it had grown beyond journal_size_limit. */
  truncated: boolean;
}

interface CheckpointRow { busy: number; log: number; checkpointed: number }

export class WalMeter {
  private lastLog = 0;
  private lastCheckpointed = 0;
  private lastHeader: Buffer | null;
  private readonly walPath: string;

  constructor(private readonly db: Database.Database, dbPath: string, private readonly pageSize: number, private readonly sizeLimit: number) {
    this.walPath = `${dbPath}-wal`;
    this.lastHeader = this.readHeader();
    const row = this.checkpoint('PASSIVE');
    this.lastLog = row.log;
    this.lastCheckpointed = row.checkpointed;
  }

  /** Checksum-relevant part of the WAL header: checkpoint sequence and salts (bytes 12..23). */
  private readHeader(): Buffer | null {
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.walPath, 'r');
      const buf = Buffer.alloc(12);
      return fs.readSync(fd, buf, 0, 12, 12) === 12 ? buf : null;
    } catch {
      return null;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  walFileBytes(): number {
    try {
      return fs.statSync(this.walPath).size;
    } catch {
      return 0;
    }
  }

  private checkpoint(mode: 'PASSIVE' | 'TRUNCATE'): CheckpointRow {
    const rows = this.db.pragma(`wal_checkpoint(${mode})`) as CheckpointRow[];
    return rows[0] ?? { busy: 0, log: 0, checkpointed: 0 };
  }

  /**
   * Runs a passive checkpoint (never waits for readers) and reports what was written since the
   * previous call. When every frame is back in the database file and the WAL file is above its
   * limit, truncates it — the case of a WAL that grew while a long reader held it open.
   */
  checkpointAndMeasure(): WalWrite {
    const row = this.checkpoint('PASSIVE');
    const header = this.readHeader();
    const restarted = header !== null && (this.lastHeader === null || !header.equals(this.lastHeader));
    const log = Math.max(0, row.log);
    const done = Math.max(0, row.checkpointed);
    const walFrames = restarted ? log : Math.max(0, log - this.lastLog);
    const checkpointedPages = restarted ? done : Math.max(0, done - this.lastCheckpointed);
    const bytes = walFrames * (this.pageSize + WAL_FRAME_HEADER) + (restarted ? WAL_HEADER : 0) + checkpointedPages * this.pageSize;
    let truncated = false;
    let walFileBytes = this.walFileBytes();
    if (row.busy === 0 && done === log && walFileBytes > this.sizeLimit) {
      // Every frame is in the database file; cut the WAL back. Never wait for a reader here.
      const previousTimeout = this.db.pragma('busy_timeout', { simple: true }) as number;
      this.db.pragma('busy_timeout = 0');
      try {
        const t = this.checkpoint('TRUNCATE');
        truncated = t.busy === 0;
      } catch {
        truncated = false;
      } finally {
        this.db.pragma(`busy_timeout = ${previousTimeout}`);
      }
      walFileBytes = this.walFileBytes();
    }
    const after = truncated ? { log: 0, checkpointed: 0 } : { log, checkpointed: done };
    this.lastLog = after.log;
    this.lastCheckpointed = after.checkpointed;
    this.lastHeader = truncated ? null : header;
    return { walFrames, checkpointedPages, bytes, busy: row.busy !== 0 || done < log, walFileBytes, truncated };
  }
}

/** `/proc/self/io` counters, or null where the file does not exist (not Linux). */
export interface ProcIo {
  /** Bytes this process caused to be sent to the storage layer. */
  write_bytes: number;
  /** Bytes passed to write(2) and friends. */
  wchar: number;
}

export function readProcIo(): ProcIo | null {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/io', 'latin1');
  } catch {
    return null;
  }
  let write_bytes = 0;
  let wchar = 0;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon);
    if (key === 'write_bytes') write_bytes = Number(line.slice(colon + 1));
    else if (key === 'wchar') wchar = Number(line.slice(colon + 1));
  }
  return { write_bytes, wchar };
}
