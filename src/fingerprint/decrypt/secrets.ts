/**
 * Decryption secrets in NSS key-log form (what SSLKEYLOGFILE writes, and what a pcapng Decryption
 * Secrets Block of type TLS carries): `LABEL <client_random hex> <secret hex>` per line.
 * Secrets are keyed by client random, so a connection finds its keys from its ClientHello.
 */
import { readFileSync } from 'node:fs';

export type SecretLabel =
  | 'CLIENT_RANDOM'
  | 'CLIENT_EARLY_TRAFFIC_SECRET'
  | 'CLIENT_HANDSHAKE_TRAFFIC_SECRET'
  | 'SERVER_HANDSHAKE_TRAFFIC_SECRET'
  | 'CLIENT_TRAFFIC_SECRET_0'
  | 'SERVER_TRAFFIC_SECRET_0'
  | 'EXPORTER_SECRET'
  | 'EARLY_EXPORTER_SECRET';

const LABELS = new Set<string>([
  'CLIENT_RANDOM', 'CLIENT_EARLY_TRAFFIC_SECRET', 'CLIENT_HANDSHAKE_TRAFFIC_SECRET',
  'SERVER_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_TRAFFIC_SECRET_0', 'SERVER_TRAFFIC_SECRET_0',
  'EXPORTER_SECRET', 'EARLY_EXPORTER_SECRET',
]);

/** Bounds memory on a hostile or huge key log: at most this many client randoms are kept. */
export const MAX_SECRET_ENTRIES = 100_000;

/** Caches "does the store hold secrets for this client random?" until the store changes. */
export class KeyedCache {
  private gen = -1;
  private value = false;

  has(store: SecretsStore | null, random: Buffer | undefined): boolean {
    if (!store || !random || store.size === 0) return false;
    if (store.generation !== this.gen) {
      this.gen = store.generation;
      this.value = store.has(random);
    }
    return this.value;
  }
}

export class SecretsStore {
  private readonly byRandom = new Map<string, Map<SecretLabel, Buffer>>();
  /** Bumped on every change, so callers can cache lookups until new secrets arrive. */
  generation = 0;

  get size(): number {
    return this.byRandom.size;
  }

  /** Adds every well-formed line of an NSS key log; returns how many secrets were added. Bad lines are skipped. */
  addKeyLogText(text: string): number {
    let added = 0;
    for (const raw of text.split('\n')) {
      const line = raw.trim();
      if (!line || line[0] === '#') continue;
      const parts = line.split(/\s+/);
      if (parts.length !== 3 || !LABELS.has(parts[0])) continue;
      const [label, random, secret] = parts;
      if (random.length !== 64 || !isHex(random) || secret.length < 32 || secret.length > 256 || !isHex(secret)) continue;
      const key = random.toLowerCase();
      let entry = this.byRandom.get(key);
      if (!entry) {
        if (this.byRandom.size >= MAX_SECRET_ENTRIES) continue;
        entry = new Map();
        this.byRandom.set(key, entry);
      }
      entry.set(label as SecretLabel, Buffer.from(secret, 'hex'));
      added++;
      this.generation++;
    }
    return added;
  }

  /** Reads an NSS key-log file; throws a one-line error naming the file when it cannot be read. */
  addKeyLogFile(path: string): number {
    let text: string;
    try {
      text = readFileSync(path, 'latin1');
    } catch (e) {
      throw new Error(`cannot read key log ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return this.addKeyLogText(text);
  }

  get(clientRandom: Buffer, label: SecretLabel): Buffer | undefined {
    if (this.byRandom.size === 0) return undefined;
    return this.byRandom.get(clientRandom.toString('hex'))?.get(label);
  }

  has(clientRandom: Buffer): boolean {
    return this.byRandom.size > 0 && this.byRandom.has(clientRandom.toString('hex'));
  }

  clear(): void {
    this.byRandom.clear();
    this.generation++;
  }
}

function isHex(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20;
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return false;
  }
  return true;
}

/** The process-wide store: `--keylog FILE` and pcapng Decryption Secrets Blocks add to it. */
export const defaultSecrets = new SecretsStore();

/** How many secrets key-log text holds (NSS format: LABEL <client random> <secret>), without keeping them. */
export function keyLogSecretCount(text: Buffer): number {
  return new SecretsStore().addKeyLogText(text.toString('latin1'));
}

/** Adds key-log text (e.g. the contents of a pcapng DSB of type 0x544c534b "TLSK") to the default store. */
export function addKeyLogText(text: string): number {
  return defaultSecrets.addKeyLogText(text);
}
