/**
 * One TLS connection seen from the wire: both directions' record and handshake reassembly, the
 * hellos, certificate chains, and — when the secrets store holds keys for the connection's client
 * random — record decryption, which yields TLS 1.3 certificates and application plaintext.
 *
 * Transport-independent: the TCP analyzer pushes in-order stream bytes per direction.
 */
import { parseClientHello, parseServerHello, EXT_ALPN, type ClientHello, type ServerHello } from './hello.js';
import { parseCertificateList, decompressCertificate } from './certificate.js';
import {
  CT_APPLICATION_DATA, CT_CHANGE_CIPHER_SPEC, CT_HANDSHAKE, HandshakeReader, RecordReader,
  type HandshakeSink, type RecordSink,
} from './records.js';
import { KeyedCache, type SecretsStore } from '../decrypt/secrets.js';
import { Tls13Direction, tls13Suite, tls12Keys, type Tls12Direction } from '../decrypt/tls.js';

export const HS_CLIENT_HELLO = 1;
export const HS_SERVER_HELLO = 2;
export const HS_ENCRYPTED_EXTENSIONS = 8;
export const HS_CERTIFICATE = 11;
export const HS_COMPRESSED_CERTIFICATE = 25;

const EXT_ENCRYPT_THEN_MAC = 0x0016;
/** ServerHello.random of a HelloRetryRequest (RFC 8446 §4.1.3). */
const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

export interface TlsSessionEvents {
  clientHello(ch: ClientHello): void;
  serverHello(sh: ServerHello): void;
  /** A Certificate message's DER certificates (leaf first). */
  certificates(ders: Buffer[], fromClient: boolean): void;
  /** Decrypted application data. */
  plaintext(fromClient: boolean, data: Buffer, alpn: string | null): void;
}

const CLIENT = 1;
const SERVER = 0;

export class TlsSession implements RecordSink, HandshakeSink {
  clientHello: ClientHello | null = null;
  serverHello: ServerHello | null = null;
  /** The negotiated version and cipher (from the last ServerHello, i.e. after a HelloRetryRequest). */
  version = 0;
  cipher = 0;
  /** ALPN the server selected (ServerHello or EncryptedExtensions). */
  alpn: string | null = null;

  private readonly records: [RecordReader, RecordReader];
  private readonly handshakes: [HandshakeReader, HandshakeReader];
  private readonly ccs = [false, false];
  private helloRetry = false;
  private readonly keyed = new KeyedCache();
  private keysLooked = false;
  private tls13: [Tls13Direction, Tls13Direction] | null = null;
  private tls12: [Tls12Direction, Tls12Direction] | null = null;

  constructor(private readonly events: TlsSessionEvents, private readonly secrets: SecretsStore | null) {
    // The session is the sink of all four readers; they pass their direction back.
    this.records = [new RecordReader(this, SERVER, HS_SERVER_HELLO), new RecordReader(this, CLIENT, HS_CLIENT_HELLO)];
    this.handshakes = [new HandshakeReader(this, SERVER), new HandshakeReader(this, CLIENT)];
  }

  push(fromClient: boolean, data: Buffer, off = 0, len = data.length - off): void {
    this.records[fromClient ? CLIENT : SERVER].push(data, off, len);
  }

  /**
   * Bytes were lost before the next ones. A direction whose hello is still to come searches for it
   * again; one past its hello cannot re-find record boundaries, so it stops.
   */
  gap(fromClient: boolean): void {
    const d = fromClient ? CLIENT : SERVER;
    const seen = fromClient ? this.clientHello !== null : this.serverHello !== null;
    this.records[d].restart(!seen);
    this.handshakes[d].reset();
  }

  /** Gives up on the connection (used after an unexpected error). */
  abandon(): void {
    this.records[0].dead = true;
    this.records[1].dead = true;
    this.release();
  }

  /** Gives back what the readers hold for cut records and messages (the session is being dropped). */
  release(): void {
    for (const r of this.records) r.release();
    for (const h of this.handshakes) h.reset();
  }

  /** Handshake-layer bytes from a transport without TLS records (QUIC CRYPTO frames), in order. */
  pushHandshake(fromClient: boolean, data: Buffer, off: number, len: number): void {
    this.handshakes[fromClient ? CLIENT : SERVER].push(data, off, len);
  }

  get tls13Negotiated(): boolean {
    return this.version === 0x0304;
  }

  /** True once a direction holds nothing more for us: its hello is in and nothing can be decrypted. */
  directionDone(fromClient: boolean): boolean {
    const d = fromClient ? CLIENT : SERVER;
    if (this.records[d].dead) return true;
    if (this.hasKeys()) return false;
    if (fromClient) return this.clientHello !== null && (this.serverHello !== null || this.secrets === null || this.secrets.size === 0);
    if (!this.serverHello || this.helloRetry) return false;
    return this.tls13Negotiated || this.ccs[SERVER];
  }

  private hasKeys(): boolean {
    return this.clientHello !== null && this.keyed.has(this.secrets, this.clientHello.random);
  }

  /** RecordSink: a whole record from the reader of direction d. */
  record(d: number, type: number, _version: number, buf: Buffer, off: number, len: number): void {
    if (type === CT_HANDSHAKE) {
      if (!this.ccs[d]) { this.handshakes[d].push(buf, off, len); return; }
      const keys = this.tls12Keys();
      const pt = keys?.[d].open(type, buf, off, len);
      if (pt) this.handshakes[d].push(pt, 0, pt.length);
    } else if (type === CT_CHANGE_CIPHER_SPEC) {
      if (!this.tls13Negotiated) {
        this.ccs[d] = true;
        this.handshakes[d].reset();
      }
    } else if (type === CT_APPLICATION_DATA) {
      if (this.tls13Negotiated) {
        const keys = this.tls13Keys();
        const pt = keys?.[d].open(buf, off, len);
        if (!pt) return;
        if (pt.type === CT_HANDSHAKE) this.handshakes[d].push(pt.data, 0, pt.data.length);
        else if (pt.type === CT_APPLICATION_DATA && pt.data.length) this.events.plaintext(d === CLIENT, pt.data, this.appProtocol());
      } else if (this.ccs[d]) {
        const pt = this.tls12Keys()?.[d].open(type, buf, off, len);
        if (pt && pt.length) this.events.plaintext(d === CLIENT, pt, this.appProtocol());
      }
    }
  }

  private appProtocol(): string | null {
    if (this.alpn !== null) return this.alpn;
    const offered = this.clientHello?.alpn[0];
    return offered ? offered.toString('latin1') : null;
  }

  /** HandshakeSink: a whole handshake message from the reader of direction d. */
  message(d: number, type: number, buf: Buffer, off: number, len: number): void {
    switch (type) {
      case HS_CLIENT_HELLO: {
        if (d !== CLIENT || this.clientHello) return; // the first ClientHello wins
        const ch = parseClientHello(buf, off, len);
        if (!ch) return;
        this.clientHello = ch;
        this.events.clientHello(ch);
        return;
      }
      case HS_SERVER_HELLO: {
        if (d !== SERVER) return;
        const sh = parseServerHello(buf, off, len);
        if (!sh) return;
        this.version = sh.supportedVersion ?? sh.version;
        this.cipher = sh.cipher;
        if (sh.alpn[0]) this.alpn = sh.alpn[0].toString('latin1');
        if (!this.serverHello) {
          this.serverHello = sh;
          this.events.serverHello(sh);
        }
        // A HelloRetryRequest keeps the first place for JA4S; the real ServerHello that follows
        // only updates the version and cipher used for decryption.
        this.helloRetry = sh.random.equals(HRR_RANDOM);
        return;
      }
      case HS_ENCRYPTED_EXTENSIONS:
        if (d === SERVER) this.alpn = encryptedExtensionsAlpn(buf, off, len) ?? this.alpn;
        return;
      case HS_CERTIFICATE: {
        const certs = parseCertificateList(buf, off, len, this.tls13Negotiated);
        if (certs.length) this.events.certificates(certs, d === CLIENT);
        return;
      }
      case HS_COMPRESSED_CERTIFICATE: {
        const body = decompressCertificate(buf, off, len);
        if (!body) return;
        const certs = parseCertificateList(body, 0, body.length, true);
        if (certs.length) this.events.certificates(certs, d === CLIENT);
        return;
      }
      default:
        return;
    }
  }

  private tls13Keys(): [Tls13Direction, Tls13Direction] | null {
    if (this.tls13 || this.keysLooked) return this.tls13;
    this.keysLooked = true;
    const ch = this.clientHello;
    const suite = tls13Suite(this.cipher);
    if (!ch || !suite || !this.secrets) return null;
    const get = (l: Parameters<SecretsStore['get']>[1]) => this.secrets!.get(ch.random, l);
    const chs = get('CLIENT_HANDSHAKE_TRAFFIC_SECRET'), shs = get('SERVER_HANDSHAKE_TRAFFIC_SECRET');
    const cap = get('CLIENT_TRAFFIC_SECRET_0'), sap = get('SERVER_TRAFFIC_SECRET_0');
    const early = get('CLIENT_EARLY_TRAFFIC_SECRET');
    const client = [early, chs, cap].filter((s): s is Buffer => s !== undefined);
    const server = [shs, sap].filter((s): s is Buffer => s !== undefined);
    if (!client.length && !server.length) return null;
    this.tls13 = [new Tls13Direction(suite, server), new Tls13Direction(suite, client)];
    return this.tls13;
  }

  private tls12Keys(): [Tls12Direction, Tls12Direction] | null {
    if (this.tls12 || this.keysLooked) return this.tls12;
    this.keysLooked = true;
    const ch = this.clientHello, sh = this.serverHello;
    if (!ch || !sh || !this.secrets) return null;
    const master = this.secrets.get(ch.random, 'CLIENT_RANDOM');
    if (!master) return null;
    const etm = ch.extensions.includes(EXT_ENCRYPT_THEN_MAC) && sh.extensions.includes(EXT_ENCRYPT_THEN_MAC);
    const keys = tls12Keys(this.cipher, this.version, master, ch.random, sh.random, etm);
    if (!keys) return null;
    this.tls12 = [keys.server, keys.client];
    return this.tls12;
  }
}

function encryptedExtensionsAlpn(buf: Buffer, off: number, len: number): string | null {
  const end = Math.min(buf.length, off + len);
  if (off + 2 > end) return null;
  let p = off + 2;
  const stop = Math.min(end, p + buf.readUInt16BE(off));
  while (p + 4 <= stop) {
    const type = buf.readUInt16BE(p);
    const elen = buf.readUInt16BE(p + 2);
    p += 4;
    if (type === EXT_ALPN && p + 3 <= stop) {
      const plen = buf[p + 2];
      return buf.toString('latin1', p + 3, Math.min(p + 3 + plen, stop));
    }
    p += elen;
  }
  return null;
}
