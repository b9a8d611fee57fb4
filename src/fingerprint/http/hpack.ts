/**
 * HPACK header-block decoding (RFC 7541): static and dynamic tables, integer and string literals,
 * Huffman strings and dynamic table size updates. One decoder per direction of a connection; every
 * header block of that direction must pass through it, in order, to keep the dynamic table right.
 */
import { huffmanDecode } from './huffman.js';
import { asciiString } from './text.js';

export interface HeaderField {
  name: string;
  value: string;
}

export class HpackError extends Error {}

const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''],
  ['cache-control', ''], ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''],
  ['content-length', ''], ['content-location', ''], ['content-range', ''], ['content-type', ''],
  ['cookie', ''], ['date', ''], ['etag', ''], ['expect', ''], ['expires', ''], ['from', ''], ['host', ''],
  ['if-match', ''], ['if-modified-since', ''], ['if-none-match', ''], ['if-range', ''],
  ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''], ['location', ''], ['max-forwards', ''],
  ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''], ['referer', ''], ['refresh', ''],
  ['retry-after', ''], ['server', ''], ['set-cookie', ''], ['strict-transport-security', ''],
  ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''], ['www-authenticate', ''],
];

/** RFC 7541 §4.1: an entry's size is its octets plus 32. */
const ENTRY_OVERHEAD = 32;
/** Default SETTINGS_HEADER_TABLE_SIZE. */
export const DEFAULT_TABLE_SIZE = 4096;
/** The most a peer may make us keep, whatever it announces (bounded memory). */
const TABLE_SIZE_CAP = 65536;
/** A header list longer than this is hostile. */
const MAX_FIELDS = 512;

interface Entry {
  name: string;
  value: string;
  size: number;
}

export class HpackDecoder {
  /** Newest entry last. */
  private readonly entries: Entry[] = [];
  private size = 0;
  private maxSize: number;

  constructor(maxSize = DEFAULT_TABLE_SIZE) {
    this.maxSize = Math.min(maxSize, TABLE_SIZE_CAP);
  }

  get dynamicTableSize(): number {
    return this.size;
  }

  get dynamicTableLength(): number {
    return this.entries.length;
  }

  /** Decodes one complete header block. Throws HpackError (or HuffmanError) when it is malformed. */
  decode(block: Buffer): HeaderField[] {
    const fields: HeaderField[] = [];
    const end = block.length;
    let p = 0;
    while (p < end) {
      const b = block[p];
      if (b & 0x80) {
        const [index, next] = readInt(block, p, 7);
        p = next;
        const e = this.lookup(index);
        fields.push({ name: e[0], value: e[1] });
      } else if ((b & 0xc0) === 0x40) {
        p = this.literal(block, p, 6, fields, true);
      } else if ((b & 0xe0) === 0x20) {
        const [size, next] = readInt(block, p, 5);
        p = next;
        if (size > TABLE_SIZE_CAP) throw new HpackError('dynamic table size update too large');
        this.maxSize = size;
        this.evict(0);
      } else {
        // 0000xxxx without indexing, 0001xxxx never indexed: the same on the decoding side.
        p = this.literal(block, p, 4, fields, false);
      }
      if (fields.length > MAX_FIELDS) throw new HpackError('too many header fields');
    }
    return fields;
  }

  private literal(block: Buffer, p: number, prefix: number, fields: HeaderField[], index: boolean): number {
    const [nameIndex, afterIndex] = readInt(block, p, prefix);
    p = afterIndex;
    let name: string;
    if (nameIndex === 0) {
      const [n, afterName] = readString(block, p);
      name = n;
      p = afterName;
    } else {
      name = this.lookup(nameIndex)[0];
    }
    const [value, afterValue] = readString(block, p);
    fields.push({ name, value });
    if (index) this.insert(name, value);
    return afterValue;
  }

  private lookup(index: number): readonly [string, string] {
    if (index <= 0) throw new HpackError('header index 0');
    if (index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1];
    const d = index - STATIC_TABLE.length;
    if (d > this.entries.length) throw new HpackError(`header index ${index} beyond the tables`);
    const e = this.entries[this.entries.length - d];
    return [e.name, e.value];
  }

  private insert(name: string, value: string): void {
    const size = Buffer.byteLength(name, 'latin1') + Buffer.byteLength(value, 'latin1') + ENTRY_OVERHEAD;
    if (size > this.maxSize) {
      // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
      this.entries.length = 0;
      this.size = 0;
      return;
    }
    this.evict(size);
    this.entries.push({ name, value, size });
    this.size += size;
  }

  private evict(incoming: number): void {
    let drop = 0;
    while (this.size + incoming > this.maxSize && drop < this.entries.length) {
      this.size -= this.entries[drop].size;
      drop++;
    }
    if (drop > 0) this.entries.splice(0, drop);
  }
}

/** Reads an HPACK integer with an N-bit prefix; returns [value, next offset]. */
export function readInt(buf: Buffer, p: number, prefixBits: number): [number, number] {
  if (p >= buf.length) throw new HpackError('truncated integer');
  const max = (1 << prefixBits) - 1;
  let value = buf[p] & max;
  p++;
  if (value < max) return [value, p];
  let shift = 0;
  for (;;) {
    if (p >= buf.length) throw new HpackError('truncated integer');
    const b = buf[p++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) break;
    if (shift > 28) throw new HpackError('integer too large');
  }
  return [value, p];
}

function readString(buf: Buffer, p: number): [string, number] {
  if (p >= buf.length) throw new HpackError('truncated string');
  const huffman = (buf[p] & 0x80) !== 0;
  const [len, start] = readInt(buf, p, 7);
  if (start + len > buf.length) throw new HpackError('string runs past the header block');
  const raw = huffman ? huffmanDecode(buf, start, len) : buf.subarray(start, start + len);
  return [asciiString(raw, 0, raw.length), start + len];
}
