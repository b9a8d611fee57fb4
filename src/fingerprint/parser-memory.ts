/**
 * Bytes that protocol parsers hold between packets (a TLS record or handshake message, an SSH
 * message, an HTTP request head or frame cut by a segment boundary), counted over all flows.
 *
 * Each parser caps what one flow may hold, but the flow table holds up to caps.max_flows flows:
 * a peer that opens a few hundred connections and leaves a large message unfinished in each would
 * otherwise exhaust memory (hundreds of KB per flow). A copy the budget cannot hold is refused and
 * that parser gives up on its flow, as the TCP reassembly budget does for out-of-order segments.
 *
 * Each copy is charged to the flow whose packet is being handled (the engine sets `account`), and
 * given back when its parser drops it; whatever a flow's parsers still hold when the flow ends is
 * given back then, so a path that drops a buffer without saying so costs at most until its flow
 * ends. (A FinalizationRegistry would need no bookkeeping, but it kept every buffer alive for an
 * extra collection: +30 MB of peak RSS on the bench capture.)
 */
export const DEFAULT_PARSER_MEMORY_BYTES = 32 * 1024 * 1024;

/** What one flow's parsers hold (the engine's flows are accounts). */
export interface MemoryAccount {
  parserBytes: number;
  parserClosed: boolean;
}

export class ParserMemory {
  used = 0;
  /** Copies refused because the budget was full (each cost one flow some fingerprint). */
  refusals = 0;
  /** Charged for what is allocated now; outside the engine (tests, tools), an account never closed. */
  account: MemoryAccount = { parserBytes: 0, parserClosed: false };

  constructor(public maxBytes = DEFAULT_PARSER_MEMORY_BYTES) {}

  /** An uninitialised buffer of `bytes` charged to `account`, or null when the budget cannot hold it. */
  alloc(bytes: number): Buffer | null {
    if (this.used + bytes > this.maxBytes) {
      this.refusals++;
      return null;
    }
    this.used += bytes;
    this.account.parserBytes += bytes;
    return Buffer.allocUnsafe(bytes);
  }

  /** A charged copy of src[start, end), or null. */
  copy(src: Buffer, start = 0, end = src.length): Buffer | null {
    const b = this.alloc(end - start);
    if (b !== null) src.copy(b, 0, start, end);
    return b;
  }

  /** Gives back `bytes` charged to `account` earlier (a no-op once its flow has ended). */
  release(account: MemoryAccount, bytes: number): void {
    if (account.parserClosed || bytes <= 0) return;
    account.parserBytes -= bytes;
    this.used -= bytes;
  }

  /** The flow ended: everything still charged to it is given back, and later releases are ignored. */
  close(account: MemoryAccount): void {
    if (account.parserClosed) return;
    this.used -= account.parserBytes;
    account.parserBytes = 0;
    account.parserClosed = true;
  }
}

/** The process's budget: the daemon sets its size from the config. */
export const parserMemory = new ParserMemory();
