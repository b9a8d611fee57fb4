/**
 * JA4S: TLS server fingerprint from a ServerHello, as FoxIO's reference computes it:
 * `{t|q}{version}{#extensions}{alpn first+last}_{cipher}_{hash(extensions in wire order)}`.
 */
import { hash12, hex4 } from './hash.js';
import { EXT_SUPPORTED_VERSIONS, type ServerHello } from './tls/hello.js';
import { alpnChars, helloVersion, tlsVersionCode } from './ja4.js';

export interface Ja4sResult {
  ja4s: string;
  ja4s_r: string;
}

export function ja4s(sh: ServerHello, quic: boolean): Ja4sResult {
  const supported = sh.supportedVersion === null ? [] : [sh.supportedVersion];
  const version = tlsVersionCode(helloVersion(sh.version, sh.extensions.includes(EXT_SUPPORTED_VERSIONS), supported));
  const n = Math.min(99, sh.extensions.length);
  const head = `${quic ? 'q' : 't'}${version}${n < 10 ? '0' : ''}${n}${alpnChars(sh.alpn[0])}_${hex4(sh.cipher)}`;
  let exts = '';
  for (let i = 0; i < sh.extensions.length; i++) exts += (i > 0 ? ',' : '') + hex4(sh.extensions[i]);
  return { ja4s: `${head}_${hash12(exts)}`, ja4s_r: `${head}_${exts}` };
}
