/**
 * One QUIC connection seen from the wire: Initial packets decrypted with keys from the client's
 * first Destination Connection ID (v1, v2, drafts 29–32), CRYPTO frames reassembled per packet
 * number space and direction in any order (a post-quantum ClientHello spans several Initials),
 * the TLS handshake messages parsed by a TlsSession; with key-log secrets for the connection,
 * Handshake packets (certificates) and 1-RTT packets (HTTP/3 streams) are decrypted too.
 */
import { TlsSession, type TlsSessionEvents } from '../tls/session.js';
import { KeyedCache, type SecretsStore, type SecretLabel } from '../decrypt/secrets.js';
import { isSupportedVersion, keysFromSecret, nextGeneration, quicInitialKeys, type InitialKeys, type PacketKeys } from './keys.js';
import { openPacket, parseLongHeader, type LongType } from './packet.js';
import { walkFrames, type FrameSink } from './frames.js';
import { OrderedStream } from './crypto-stream.js';

export interface QuicEvents extends TlsSessionEvents {
  /** In-order bytes of a stream, from 1-RTT packets decrypted with key-log secrets. */
  streamData?(fromClient: boolean, streamId: number, data: Buffer, fin: boolean): void;
}

const SERVER = 0;
const CLIENT = 1;
const SPACE_INITIAL = 0;
const SPACE_HANDSHAKE = 1;
const SPACE_APP = 2;

/** Cap on the number of streams tracked per connection (HTTP/3 request streams). */
const MAX_STREAMS = 256;

export class QuicConnection {
  readonly tls: TlsSession;
  version = 0;
  /** Set when a datagram could not be read as QUIC at all. */
  notQuic = false;
  private initialDcid: Buffer | null = null;
  private initial: InitialKeys | null = null;
  private handshakeKeys: [PacketKeys | null, PacketKeys | null] | null = null;
  private appKeys: [PacketKeys | null, PacketKeys | null] | null = null;
  private clientScidLen = -1;
  private serverScidLen = -1;
  private readonly largest = [[-1, -1], [-1, -1], [-1, -1]];
  /** CRYPTO streams by space * 2 + direction, made on first use (most connections use the Initial space only). */
  private readonly crypto: (OrderedStream | null)[] = [null, null, null, null, null, null];
  /** The CRYPTO stream the packet being walked feeds, and the one frame sink that feeds it. */
  private cryptoTarget: OrderedStream | null = null;
  private readonly cryptoSink: FrameSink = { crypto: (offset, b, o, l) => this.cryptoTarget?.insert(offset, b, o, l) };
  /** 1-RTT streams (only with secrets), made on first use: most connections never have one. */
  private streams: Map<number, OrderedStream> | null = null;
  private readonly keyed = new KeyedCache();

  constructor(private readonly events: QuicEvents, private readonly secrets: SecretsStore | null) {
    this.tls = new TlsSession(events, null);
  }

  private cryptoStream(space: number, d: number): OrderedStream {
    const i = space * 2 + d;
    let s = this.crypto[i];
    if (s === null) {
      const fromClient = d === CLIENT;
      s = this.crypto[i] = new OrderedStream((b, o, l) => this.tls.pushHandshake(fromClient, b, o, l));
    }
    return s;
  }


  /** True when nothing more can be learnt: both hellos in and no secrets to decrypt the rest. */
  get done(): boolean {
    if (this.notQuic) return true;
    if (!this.tls.clientHello || !this.tls.serverHello) return false;
    return !this.keyed.has(this.secrets, this.tls.clientHello.random);
  }

  onDatagram(fromClient: boolean, buf: Buffer, off: number, len: number): void {
    const end = Math.min(buf.length, off + len);
    const d = fromClient ? CLIENT : SERVER;
    let p = off;
    let first = true;
    while (p < end) {
      if (buf[p] & 0x80) {
        const h = parseLongHeader(buf, p, end);
        if (!h || !isSupportedVersion(h.version)) { if (first && !this.version) this.notQuic = true; return; }
        first = false;
        if (h.type === 'retry') { if (!fromClient) this.initial = null; return; }
        this.version = h.version;
        if (fromClient) this.clientScidLen = h.scid.length; else this.serverScidLen = h.scid.length;
        this.openLong(d, h.type, h.dcid, buf, p, h.pnOffset, h.end);
        p = h.end;
      } else {
        if ((buf[p] & 0x40) === 0) return; // padding or not QUIC
        this.openShort(d, buf, p, end);
        return;
      }
    }
  }

  private openLong(d: number, type: LongType, dcid: Buffer, buf: Buffer, p: number, pnOffset: number, end: number): void {
    let keys: PacketKeys | null = null;
    let space = SPACE_INITIAL;
    if (type === 'initial') {
      if (d === CLIENT && (!this.initial || !this.initialDcid?.equals(dcid))) {
        // A client's first Initial fixes the keys; a new DCID (after Retry) replaces them.
        if (!this.initial || this.tryOpen(d, SPACE_INITIAL, this.initial.client, buf, p, pnOffset, end) === null) {
          const k = quicInitialKeys(dcid, this.version);
          if (!k) return;
          this.initial = k;
          this.initialDcid = Buffer.from(dcid);
        } else {
          return; // opened with the old keys already
        }
      }
      keys = this.initial?.of(d === CLIENT) ?? null;
    } else if (type === 'handshake') {
      space = SPACE_HANDSHAKE;
      keys = this.secretKeys('handshake')?.[d] ?? null;
    }
    if (keys) this.tryOpen(d, space, keys, buf, p, pnOffset, end);
  }

  private tryOpen(d: number, space: number, keys: PacketKeys, buf: Buffer, p: number, pnOffset: number, end: number): boolean | null {
    const opened = openPacket(buf, p, pnOffset, end, keys, this.largest[space][d]);
    if (!opened) return null;
    if (opened.pn > this.largest[space][d]) this.largest[space][d] = opened.pn;
    // One sink per connection, not an object and a closure per packet; cryptoTarget says where to.
    this.cryptoTarget = this.cryptoStream(space, d);
    walkFrames(opened.payload, 0, opened.payload.length, this.cryptoSink);
    this.cryptoTarget = null;
    return true;
  }

  private openShort(d: number, buf: Buffer, p: number, end: number): void {
    // Only requests are fingerprinted: the server's 1-RTT packets (the bulk: responses) stay sealed.
    if (d !== CLIENT || !this.events.streamData) return;
    const app = this.secretKeys('app');
    const keys = app?.[d];
    if (!app || !keys) return;
    const dcidLen = d === CLIENT ? this.serverScidLen : this.clientScidLen;
    if (dcidLen < 0) return;
    const pnOffset = p + 1 + dcidLen;
    let opened = openPacket(buf, p, pnOffset, end, keys, this.largest[SPACE_APP][d]);
    if (!opened) {
      // A key update: the next generation (same header protection key).
      const next = nextGeneration(keys, this.tls.cipher);
      if (!next) return;
      opened = openPacket(buf, p, pnOffset, end, next, this.largest[SPACE_APP][d]);
      if (!opened) return;
      app[d] = next;
    }
    if (opened.pn > this.largest[SPACE_APP][d]) this.largest[SPACE_APP][d] = opened.pn;
    const sink: FrameSink = {
      crypto: () => undefined,
      stream: (id, offset, b, o, l, fin) => this.onStream(d, id, offset, b, o, l, fin),
    };
    walkFrames(opened.payload, 0, opened.payload.length, sink);
  }

  private onStream(d: number, id: number, offset: number, b: Buffer, o: number, l: number, fin: boolean): void {
    if (!this.events.streamData) return;
    // Both endpoints send on a bidirectional stream: one reassembly per stream and direction.
    const key = id * 2 + d;
    const streams = this.streams ??= new Map();
    let s = streams.get(key);
    if (!s) {
      if (streams.size >= MAX_STREAMS) return;
      s = new OrderedStream((data, off, len) => this.events.streamData!(d === CLIENT, id, data.subarray(off, off + len), false));
      streams.set(key, s);
    }
    s.insert(offset, b, o, l);
    if (fin && s.delivered === offset + l) this.events.streamData(d === CLIENT, id, Buffer.alloc(0), true);
  }

  private secretKeys(kind: 'handshake' | 'app'): [PacketKeys | null, PacketKeys | null] | null {
    const cached = kind === 'handshake' ? this.handshakeKeys : this.appKeys;
    if (cached) return cached;
    const ch = this.tls.clientHello;
    if (!this.secrets || !ch || !this.tls.cipher || !this.keyed.has(this.secrets, ch.random)) return null;
    const labels: [SecretLabel, SecretLabel] = kind === 'handshake'
      ? ['SERVER_HANDSHAKE_TRAFFIC_SECRET', 'CLIENT_HANDSHAKE_TRAFFIC_SECRET']
      : ['SERVER_TRAFFIC_SECRET_0', 'CLIENT_TRAFFIC_SECRET_0'];
    const make = (l: SecretLabel): PacketKeys | null => {
      const s = this.secrets!.get(ch.random, l);
      return s ? keysFromSecret(s, this.tls.cipher, this.version) : null;
    };
    const keys: [PacketKeys | null, PacketKeys | null] = [make(labels[0]), make(labels[1])];
    if (kind === 'handshake') this.handshakeKeys = keys; else this.appKeys = keys;
    return keys;
  }
}
