/** Builders for hand-made TLS messages used by the fingerprint tests. */

export function u8(v: number): Buffer { return Buffer.of(v & 0xff); }
export function u16(v: number): Buffer { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; }
export function u24(v: number): Buffer { const b = Buffer.alloc(3); b.writeUIntBE(v, 0, 3); return b; }
export function vec8(...parts: Buffer[]): Buffer { const d = Buffer.concat(parts); return Buffer.concat([u8(d.length), d]); }
export function vec16(...parts: Buffer[]): Buffer { const d = Buffer.concat(parts); return Buffer.concat([u16(d.length), d]); }
export function vec24(...parts: Buffer[]): Buffer { const d = Buffer.concat(parts); return Buffer.concat([u24(d.length), d]); }

export function ext(type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([u16(type), vec16(data)]);
}

export const sniExt = (name: string): Buffer => ext(0, vec16(u8(0), vec16(Buffer.from(name))));
export const alpnExt = (...protos: (string | Buffer)[]): Buffer =>
  ext(16, vec16(...protos.map((p) => vec8(typeof p === 'string' ? Buffer.from(p, 'latin1') : p))));
export const sigAlgsExt = (...algs: number[]): Buffer => ext(13, vec16(...algs.map(u16)));
export const supportedVersionsExt = (...v: number[]): Buffer => ext(43, vec8(...v.map(u16)));

export interface ClientHelloSpec {
  version?: number;
  random?: Buffer;
  ciphers: number[];
  /** Raw extension blocks (use ext()/sniExt()/...), or null for a hello without an extensions block. */
  extensions: Buffer[] | null;
}

/** A ClientHello handshake body (without the 4-byte handshake header). */
export function clientHelloBody(spec: ClientHelloSpec): Buffer {
  const parts = [
    u16(spec.version ?? 0x0303),
    spec.random ?? Buffer.alloc(32, 0x11),
    vec8(Buffer.alloc(32, 0x22)),
    vec16(...spec.ciphers.map(u16)),
    vec8(u8(0)),
  ];
  if (spec.extensions) parts.push(vec16(...spec.extensions));
  return Buffer.concat(parts);
}

export function serverHelloBody(opts: { version?: number; random?: Buffer; cipher: number; extensions: Buffer[] }): Buffer {
  return Buffer.concat([
    u16(opts.version ?? 0x0303),
    opts.random ?? Buffer.alloc(32, 0x33),
    vec8(Buffer.alloc(32, 0x22)),
    u16(opts.cipher),
    u8(0),
    vec16(...opts.extensions),
  ]);
}

export function handshake(type: number, body: Buffer): Buffer {
  return Buffer.concat([u8(type), u24(body.length), body]);
}

export function record(type: number, body: Buffer, version = 0x0303): Buffer {
  return Buffer.concat([u8(type), u16(version), u16(body.length), body]);
}

/** Chrome-like ClientHello with GREASE in ciphers, extensions and supported_versions. */
export function chromeLikeHello(random?: Buffer): Buffer {
  return clientHelloBody({
    random,
    ciphers: [0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035],
    extensions: [
      ext(0x1a1a),
      sniExt('example.com'),
      ext(0x0017),
      ext(0xff01, Buffer.of(0)),
      ext(0x000a, vec16(u16(0x2a2a), u16(0x001d), u16(0x0017))),
      ext(0x000b, vec8(u8(0))),
      ext(0x0023),
      alpnExt('h2', 'http/1.1'),
      ext(0x0005, Buffer.from('0100000000', 'hex')),
      sigAlgsExt(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601),
      ext(0x0012),
      ext(0x0033, vec16(u16(0x2a2a), vec16(u8(0)))),
      ext(0x002d, vec8(u8(1))),
      supportedVersionsExt(0x3a3a, 0x0304, 0x0303),
      ext(0x001b, Buffer.from('020002', 'hex')),
      ext(0x4469, Buffer.from('0003026832', 'hex')),
      ext(0x0015, Buffer.alloc(10)),
      ext(0x4a4a, Buffer.of(0)),
    ],
  });
}
