/**
 * Streaming reader for pcap and pcapng captures. Bytes are pushed in whatever chunks the source
 * delivers (a file, stdin, tcpdump's pipe); complete records are handed out as views into the
 * chunk, so reading allocates nothing per packet. Damage ends the read with a CaptureFormatError
 * that names the byte offset; everything before the damage has already been delivered.
 */

export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_RAW_OPENBSD = 14;
export const LINKTYPE_RAW_12 = 12;
export const LINKTYPE_LOOP = 108;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/** One captured frame; `data` is a view valid only during the callback. */
export interface RawFrame {
  frame: number;
  tsUs: number;
  linkType: number;
  interfaceId: number;
  data: Buffer;
  origLen: number;
}

export type FrameHandler = (frame: RawFrame) => void;
/** pcapng Decryption Secrets Block: secretsType 0x544c534b is a TLS key log ("TLSK"). */
export type SecretsHandler = (secretsType: number, data: Buffer) => void;

export class CaptureFormatError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} at byte offset ${offset}`);
    this.name = 'CaptureFormatError';
  }
}

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const BLOCK_IDB = 0x00000001;
const BLOCK_OPB = 0x00000002;
const BLOCK_SPB = 0x00000003;
const BLOCK_NRB = 0x00000004;
const BLOCK_EPB = 0x00000006;
const BLOCK_DSB = 0x0000000a;
/** Larger records than this are damage, not packets (tcpdump's own ceiling is 256 KiB). */
const MAX_RECORD = 16 * 1024 * 1024;

interface PcapngInterface {
  linkType: number;
  snapLen: number;
  /** Multiplier from timestamp units to microseconds. */
  unitToUs: number;
  offsetUs: number;
}

const enum Format { Unknown, Pcap, Pcapng }

export class CaptureReader {
  private pending: Buffer | null = null;
  /**
   * A record larger than the chunks it arrives in is gathered here, allocated once at its full
   * size: joining the pending bytes with each new chunk copied everything so far every time
   * (quadratic: a 16 MiB record over 4 KiB pipe writes took seconds). `pending` is then a view of it.
   */
  private assembly: Buffer | null = null;
  /** Absolute offset in the stream of pending[0]. */
  private base = 0;
  private format = Format.Unknown;
  private littleEndian = true;
  private pcapLinkType = 0;
  private pcapNano = false;
  private interfaces: PcapngInterface[] = [];
  private frameNo = 0;
  private readonly frame: RawFrame = { frame: 0, tsUs: 0, linkType: 0, interfaceId: 0, data: Buffer.alloc(0), origLen: 0 };
  private failed: CaptureFormatError | null = null;
  bytesRead = 0;

  constructor(private readonly onFrame: FrameHandler, private readonly onSecrets?: SecretsHandler) {}

  get framesRead(): number {
    return this.frameNo;
  }

  /** Feeds the next chunk; throws CaptureFormatError at the first damaged record. */
  push(chunk: Buffer): void {
    if (this.failed) throw this.failed;
    this.bytesRead += chunk.length;
    let from = 0;
    try {
      if (this.pending !== null) {
        // A record straddles the chunk boundary: copy just that record's bytes, not the whole chunk.
        from = this.completePending(chunk);
        if (from < 0) return;
      }
      const off = this.parse(from === 0 ? chunk : chunk.subarray(from));
      this.base += off;
      const rest = chunk.length - from - off;
      // Keep the unconsumed tail: copy it so the caller's chunk can be released.
      this.pending = rest > 0 ? Buffer.from(chunk.subarray(chunk.length - rest)) : null;
    } catch (err) {
      if (err instanceof CaptureFormatError) this.failed = err;
      throw err;
    }
  }

  /**
   * Joins the pending tail with the start of `chunk` until the record it begins is whole, parses it,
   * and returns how many bytes of `chunk` that took; -1 when the chunk did not suffice.
   */
  private completePending(chunk: Buffer): number {
    const pending = this.pending as Buffer;
    const need = this.recordLength(pending, chunk);
    // A length no longer than what is already pending is damage: hand parse() the whole chunk so it
    // reports it (a negative take would silently drop the chunk's bytes).
    const take = need < 0 || need <= pending.length ? chunk.length : Math.min(chunk.length, need - pending.length);
    let joined: Buffer;
    const headerSize = this.format === Format.Pcap ? 16 : this.format === Format.Pcapng ? 12 : Infinity;
    if (need > pending.length && pending.length >= headerSize && need <= MAX_RECORD + 16) {
      // Gather into one buffer of the record's size. Only once the pending bytes hold the whole
      // header: parse() has then seen and checked it, so damage is still reported where it is.
      let asm = this.assembly;
      if (asm === null || pending.buffer !== asm.buffer || pending.byteOffset !== asm.byteOffset) {
        asm = Buffer.allocUnsafe(need);
        pending.copy(asm, 0);
        this.assembly = asm;
      }
      chunk.copy(asm, pending.length, 0, take);
      const have = pending.length + take;
      if (have < need) {
        this.pending = asm.subarray(0, have);
        return -1;
      }
      joined = asm.subarray(0, need);
      this.assembly = null;
    } else {
      joined = Buffer.concat([pending, chunk.subarray(0, take)]);
    }
    const off = this.parse(joined);
    this.base += off;
    if (off < joined.length) {
      // Still incomplete (or the header itself was cut): wait for more.
      this.pending = Buffer.from(joined.subarray(off));
      if (take === chunk.length) return -1;
      // The record was whole but its header said otherwise; parse() would have thrown. Keep going.
      return take;
    }
    this.pending = null;
    return take;
  }

  /** Total length of the record starting at pending[0] (header read across both buffers), or -1 if unknown yet. */
  private recordLength(pending: Buffer, chunk: Buffer): number {
    const header = this.format === Format.Pcap ? 16 : this.format === Format.Pcapng ? 12 : -1;
    if (header < 0) return -1;
    let head = pending;
    if (pending.length < header) {
      if (pending.length + chunk.length < header) return -1;
      head = Buffer.concat([pending, chunk.subarray(0, header - pending.length)]);
    }
    if (this.format === Format.Pcap) return 16 + this.u32(head, 8);
    const type = head.readUInt32LE(0);
    if (type === PCAPNG_SHB) {
      // The section's byte order is not known until its byte-order magic has been read.
      const bomLE = head.readUInt32LE(8) === PCAPNG_BYTE_ORDER_MAGIC;
      return bomLE ? head.readUInt32LE(4) : head.readUInt32BE(4);
    }
    return this.u32(head, 4);
  }

  /** Signals end of input; throws if the capture stopped in the middle of a record. */
  end(): void {
    if (this.failed) throw this.failed;
    if (this.format === Format.Unknown) {
      if (this.bytesRead === 0) throw new CaptureFormatError('empty capture: no pcap or pcapng header', 0);
      throw new CaptureFormatError('truncated capture header', this.base);
    }
    if (this.pending && this.pending.length > 0) {
      throw new CaptureFormatError(`truncated record (${this.pending.length} trailing bytes)`, this.base);
    }
  }

  private parse(buf: Buffer): number {
    let off = 0;
    if (this.format === Format.Unknown) {
      if (buf.length < 4) return 0;
      const magicLE = buf.readUInt32LE(0);
      const magicBE = buf.readUInt32BE(0);
      if (magicLE === PCAPNG_SHB) {
        this.format = Format.Pcapng;
      } else if (magicLE === PCAP_MAGIC_US || magicLE === PCAP_MAGIC_NS) {
        this.format = Format.Pcap;
        this.littleEndian = true;
        this.pcapNano = magicLE === PCAP_MAGIC_NS;
      } else if (magicBE === PCAP_MAGIC_US || magicBE === PCAP_MAGIC_NS) {
        this.format = Format.Pcap;
        this.littleEndian = false;
        this.pcapNano = magicBE === PCAP_MAGIC_NS;
      } else {
        throw new CaptureFormatError('not a pcap or pcapng capture (unknown magic number)', 0);
      }
      if (this.format === Format.Pcap) {
        if (buf.length < 24) { this.format = Format.Unknown; return 0; }
        this.pcapLinkType = this.u32(buf, 20) & 0x0fffffff;
        off = 24;
      }
    }
    return this.format === Format.Pcap ? this.parsePcap(buf, off) : this.parsePcapng(buf, off);
  }

  private u32(buf: Buffer, off: number): number {
    return this.littleEndian ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
  }

  private u16(buf: Buffer, off: number): number {
    return this.littleEndian ? buf.readUInt16LE(off) : buf.readUInt16BE(off);
  }

  private parsePcap(buf: Buffer, off: number): number {
    const frame = this.frame;
    frame.linkType = this.pcapLinkType;
    frame.interfaceId = 0;
    while (buf.length - off >= 16) {
      const sec = this.u32(buf, off);
      const frac = this.u32(buf, off + 4);
      const inclLen = this.u32(buf, off + 8);
      const origLen = this.u32(buf, off + 12);
      if (inclLen > MAX_RECORD) {
        throw new CaptureFormatError(`corrupt pcap record header (captured length ${inclLen})`, this.base + off);
      }
      if (buf.length - off - 16 < inclLen) break;
      frame.frame = ++this.frameNo;
      frame.tsUs = sec * 1e6 + (this.pcapNano ? frac / 1000 : frac);
      frame.data = buf.subarray(off + 16, off + 16 + inclLen);
      frame.origLen = origLen;
      off += 16 + inclLen;
      this.onFrame(frame);
    }
    return off;
  }

  private parsePcapng(buf: Buffer, off: number): number {
    while (buf.length - off >= 12) {
      const blockStart = this.base + off;
      let type = buf.readUInt32LE(off);
      if (type === PCAPNG_SHB) {
        // The byte-order magic decides the endianness of this section, the SHB's length included.
        const bom = buf.readUInt32LE(off + 8);
        if (bom === PCAPNG_BYTE_ORDER_MAGIC) this.littleEndian = true;
        else if (buf.readUInt32BE(off + 8) === PCAPNG_BYTE_ORDER_MAGIC) this.littleEndian = false;
        else throw new CaptureFormatError('corrupt pcapng section header (bad byte-order magic)', blockStart);
        this.interfaces = [];
      } else {
        type = this.u32(buf, off);
      }
      const len = this.u32(buf, off + 4);
      if (len < 12 || len % 4 !== 0 || len > MAX_RECORD) {
        throw new CaptureFormatError(`corrupt pcapng block (type 0x${type.toString(16)}, length ${len})`, blockStart);
      }
      if (buf.length - off < len) break;
      if (this.u32(buf, off + len - 4) !== len) {
        throw new CaptureFormatError(`corrupt pcapng block (type 0x${type.toString(16)}, trailing length mismatch)`, blockStart);
      }
      this.handleBlock(type, buf, off, len, blockStart);
      off += len;
    }
    return off;
  }

  private handleBlock(type: number, buf: Buffer, off: number, len: number, blockStart: number): void {
    const body = off + 8;
    const bodyEnd = off + len - 4;
    switch (type) {
      case PCAPNG_SHB:
        return;
      case BLOCK_IDB: {
        if (bodyEnd - body < 8) throw new CaptureFormatError('corrupt pcapng interface block', blockStart);
        const iface: PcapngInterface = { linkType: this.u16(buf, body), snapLen: this.u32(buf, body + 4), unitToUs: 1, offsetUs: 0 };
        this.readIdbOptions(buf, body + 8, bodyEnd, iface);
        this.interfaces.push(iface);
        return;
      }
      case BLOCK_EPB:
      case BLOCK_OPB: {
        if (bodyEnd - body < 20) throw new CaptureFormatError('corrupt pcapng packet block', blockStart);
        const ifId = type === BLOCK_EPB ? this.u32(buf, body) : this.u16(buf, body);
        const iface = this.interfaces[ifId];
        if (!iface) throw new CaptureFormatError(`pcapng packet block names unknown interface ${ifId}`, blockStart);
        const tsHigh = this.u32(buf, body + 4);
        const tsLow = this.u32(buf, body + 8);
        const capLen = this.u32(buf, body + 12);
        const origLen = this.u32(buf, body + 16);
        if (capLen > bodyEnd - body - 20) throw new CaptureFormatError('corrupt pcapng packet block (captured length exceeds block)', blockStart);
        this.emit(iface, ifId, (tsHigh * 4294967296 + tsLow) * iface.unitToUs + iface.offsetUs, buf.subarray(body + 20, body + 20 + capLen), origLen);
        return;
      }
      case BLOCK_SPB: {
        const iface = this.interfaces[0];
        if (!iface) throw new CaptureFormatError('pcapng simple packet block before any interface block', blockStart);
        const origLen = this.u32(buf, body);
        let capLen = Math.min(origLen, bodyEnd - body - 4);
        if (iface.snapLen > 0) capLen = Math.min(capLen, iface.snapLen);
        // SPBs carry no timestamp.
        this.emit(iface, 0, 0, buf.subarray(body + 4, body + 4 + capLen), origLen);
        return;
      }
      case BLOCK_DSB: {
        if (bodyEnd - body < 8) throw new CaptureFormatError('corrupt pcapng decryption secrets block', blockStart);
        const secretsType = this.u32(buf, body);
        const secretsLen = this.u32(buf, body + 4);
        if (secretsLen > bodyEnd - body - 8) throw new CaptureFormatError('corrupt pcapng decryption secrets block (length)', blockStart);
        this.onSecrets?.(secretsType, buf.subarray(body + 8, body + 8 + secretsLen));
        return;
      }
      case BLOCK_NRB:
      default:
        // Name resolution and unknown blocks carry nothing the sensor uses; their framing was checked.
        return;
    }
  }

  private emit(iface: PcapngInterface, ifId: number, tsUs: number, data: Buffer, origLen: number): void {
    const frame = this.frame;
    frame.frame = ++this.frameNo;
    frame.tsUs = tsUs;
    frame.linkType = iface.linkType;
    frame.interfaceId = ifId;
    frame.data = data;
    frame.origLen = origLen;
    this.onFrame(frame);
  }

  private readIdbOptions(buf: Buffer, off: number, end: number, iface: PcapngInterface): void {
    while (end - off >= 4) {
      const code = this.u16(buf, off);
      const len = this.u16(buf, off + 2);
      if (code === 0 || off + 4 + len > end) return;
      const v = off + 4;
      if (code === 9 && len >= 1) {
        // if_tsresol: high bit set means a power of two, else a power of ten (units per second).
        const r = buf[v];
        const unitsPerSecond = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
        iface.unitToUs = 1e6 / unitsPerSecond;
      } else if (code === 14 && len >= 8) {
        const hi = this.u32(buf, this.littleEndian ? v + 4 : v);
        const lo = this.u32(buf, this.littleEndian ? v : v + 4);
        iface.offsetUs = (hi * 4294967296 + lo) * 1e6;
      }
      off = v + ((len + 3) & ~3);
    }
  }
}
