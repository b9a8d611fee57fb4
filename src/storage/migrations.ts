/**
 * Versioned, forward-only schema migrations, kept in code. `schema_version` holds one row per
 * applied migration; the database's version is the largest. A database from a newer build is
 * refused before anything is written to it.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Profiles are stored as a base table plus an append-only journal (see profiles.ts): a flush
 * appends the changed rows to `profile_journal`, which lands on a few sequential pages, instead of
 * updating rows scattered over the whole base B-tree; compaction folds the journal into the base
 * now and then. `behavior_profiles_current` is the merged view for readers that want plain SQL.
 */
export const MIGRATIONS: readonly Migration[] = Object.freeze([
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      ) WITHOUT ROWID;

      -- total_seen: the anchor's total when this row was last written. Only changed rows are
      -- written, so the anchor's current total is the largest total_seen among its rows.
      CREATE TABLE behavior_profiles (
        anchor_key    TEXT NOT NULL,
        companion_key TEXT NOT NULL,
        count         INTEGER NOT NULL,
        total_seen    INTEGER NOT NULL,
        last_updated  INTEGER NOT NULL,
        PRIMARY KEY (anchor_key, companion_key)
      ) WITHOUT ROWID;

      -- op: 0 = upsert (absolute values), 1 = delete the row, 2 = delete every row of the anchor.
      CREATE TABLE profile_journal (
        seq           INTEGER PRIMARY KEY,
        op            INTEGER NOT NULL,
        anchor_key    TEXT NOT NULL,
        companion_key TEXT NOT NULL,
        count         INTEGER NOT NULL,
        total_seen    INTEGER NOT NULL,
        last_updated  INTEGER NOT NULL
      );

      CREATE TABLE alerts (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at INTEGER NOT NULL,
        severity   TEXT NOT NULL,
        kind       TEXT NOT NULL,
        anchor     TEXT NOT NULL,
        companion  TEXT NOT NULL,
        payload    TEXT NOT NULL
      );

      -- Written by the MQTT publisher: alerts waiting for the broker.
      CREATE TABLE alert_outbox (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at INTEGER NOT NULL,
        severity   TEXT NOT NULL,
        payload    TEXT NOT NULL
      );

      -- Written by sensorctl seed: one row per source applied, so the same source is never added twice.
      CREATE TABLE seed_ledger (
        source_digest    TEXT PRIMARY KEY,
        source_sensor_id TEXT,
        applied_at       INTEGER NOT NULL,
        rows             INTEGER NOT NULL
      );

      CREATE VIEW behavior_profiles_current AS
      WITH ops AS (
        SELECT anchor_key, companion_key, count, total_seen, last_updated, 0 AS op, 0 AS seq FROM behavior_profiles
        UNION ALL
        SELECT anchor_key, companion_key, count, total_seen, last_updated, op, seq FROM profile_journal WHERE op < 2
      ),
      anchor_cut AS (
        SELECT anchor_key, MAX(seq) AS cut FROM profile_journal WHERE op = 2 GROUP BY anchor_key
      ),
      latest AS (
        SELECT ops.*, ROW_NUMBER() OVER (PARTITION BY anchor_key, companion_key ORDER BY seq DESC) AS rn FROM ops
      ),
      live AS (
        SELECT l.anchor_key, l.companion_key, l.count, l.total_seen, l.last_updated
        FROM latest l LEFT JOIN anchor_cut c ON c.anchor_key = l.anchor_key
        WHERE l.rn = 1 AND l.op = 0 AND (c.cut IS NULL OR l.seq > c.cut)
      )
      SELECT anchor_key, companion_key, count,
             MAX(total_seen) OVER (PARTITION BY anchor_key) AS total_seen, last_updated
      FROM live;
    `,
  },
]);

export const LATEST_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

function hasTable(db: Database.Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** The database's schema version: 0 for a database with no `schema_version` table. */
export function schemaVersionOf(db: Database.Database): number {
  if (!hasTable(db, 'schema_version')) return 0;
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
  return row.v ?? 0;
}

/** True when the database holds tables of its own but is not a sensor database. */
export function isForeignDb(db: Database.Database): boolean {
  if (hasTable(db, 'schema_version')) return false;
  const row = db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").get() as { n: number };
  return row.n > 0;
}

/** Applies every migration above the database's version, each in its own transaction. */
export function migrate(db: Database.Database, now = Date.now()): { from: number; to: number } {
  const from = schemaVersionOf(db);
  if (from > LATEST_SCHEMA_VERSION) {
    throw new Error(`database schema version ${from} is newer than this build supports (${LATEST_SCHEMA_VERSION})`);
  }
  for (const m of MIGRATIONS) {
    if (m.version <= from) continue;
    db.transaction(() => {
      db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, now);
    })();
  }
  return { from, to: LATEST_SCHEMA_VERSION };
}
