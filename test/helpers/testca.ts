/** A throwaway PKI for TLS tests, made with openssl at test time: a CA, a server cert, a client cert. */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  caFile: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second CA that signed nothing we use: trusting it must fail the handshake. */
  otherCaFile: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** EC P-256 keys: generated in milliseconds, unlike RSA. */
function keyAndCsr(dir: string, name: string, cn: string): void {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
}

function selfSignedCa(dir: string, name: string, cn: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`], dir);
}

function sign(dir: string, name: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`], dir);
}

export function makeTestPki(dir: string): TestPki {
  selfSignedCa(dir, 'ca', 'ja4-sensor test CA');
  selfSignedCa(dir, 'other-ca', 'some other CA');
  keyAndCsr(dir, 'server', 'localhost');
  sign(dir, 'server', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  keyAndCsr(dir, 'client', 'sensor-tls');
  sign(dir, 'client', 'extendedKeyUsage=clientAuth\n');
  return {
    caFile: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    otherCaFile: join(dir, 'other-ca.crt'),
  };
}
