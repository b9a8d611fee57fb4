/**
 * Bytes that protocol parsers hold between packets (a TLS record or handshake message, an SSH
 * message, an HTTP request head or frame cut by a segment boundary), counted over all flows.
 *
 * Each parser caps what one flow may hold, but the flow table holds up to caps.max_flows flows:
 * a peer that opens a few hundred connections and leaves a large message unfinished in each would
 * otherwise exhaust memory (hundreds of KB per flow). A copy the budget cannot hold is refused and
 * that parser gives up on its flow, as the TCP reassembly budget does for out-of-order segments.
 *
 * Copies are given back when the garbage collector frees them (FinalizationRegistry): no parser
 * has to remember to return its bytes on every path that drops a flow, and none can leak the count.
 */
export const DEFAULT_PARSER_MEMORY_BYTES = 32 * 1024 * 1024;

export class ParserMemory {
  used = 0;
  /** Copies refused because the budget was full (each cost one flow some fingerprint). */
  refusals = 0;
  private readonly registry = new FinalizationRegistry<number>((bytes) => { this.used -= bytes; });

  constructor(public maxBytes = DEFAULT_PARSER_MEMORY_BYTES) {}

  /** An uninitialised buffer of `bytes` charged to the budget, or null when it cannot hold it. */
  alloc(bytes: number): Buffer | null {
    if (this.used + bytes > this.maxBytes) {
      this.refusals++;
      return null;
    }
    const b = Buffer.allocUnsafeSlow(bytes); // its own memory: a pooled slice would keep 8 KiB alive
    this.used += bytes;
    this.registry.register(b, bytes);
    return b;
  }

  /** A charged copy of src[start, end), or null. */
  copy(src: Buffer, start = 0, end = src.length): Buffer | null {
    const b = this.alloc(end - start);
    if (b !== null) src.copy(b, 0, start, end);
    return b;
  }

  /** A charged concatenation of `a` and `b`, or null. */
  concat(a: Buffer, b: Buffer): Buffer | null {
    const out = this.alloc(a.length + b.length);
    if (out === null) return null;
    a.copy(out, 0);
    b.copy(out, a.length);
    return out;
  }
}

/** The process's budget: the engine sets its size from the config. */
export const parserMemory = new ParserMemory();
