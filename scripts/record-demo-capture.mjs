#!/usr/bin/env node
// Records test/fixtures/demo.pcap: real traffic on loopback, captured by tcpdump (needs root or
// CAP_NET_RAW). A "device" at 127.0.0.2 makes 60 TLS connections with Node's TLS stack and a few
// HTTP requests, then the same address speaks with curl's TLS stack: once the device's profile has
// passed min_seen, that new JA4 is exactly what the sensor should alert on.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

const out = process.argv[2] ?? new URL('../test/fixtures/demo.pcap', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'demo-cap-'));
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '3650',
  '-subj', '/CN=sensor-demo.local', '-addext', 'subjectAltName=DNS:sensor-demo.local',
  '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
const key = readFileSync(join(dir, 'key.pem'));
const cert = readFileSync(join(dir, 'cert.pem'));

const TLS_PORT = 18443;
const HTTP_PORT = 18080;
const tcpdump = spawn('tcpdump', ['-i', 'lo', '-U', '-n', '-s', '0', '-w', out,
  `host 127.0.0.2 and (tcp port ${TLS_PORT} or tcp port ${HTTP_PORT})`], { stdio: ['ignore', 'ignore', 'pipe'] });
await new Promise((resolve, reject) => {
  tcpdump.stderr.on('data', (d) => { if (String(d).includes('listening')) resolve(); });
  tcpdump.on('error', reject);
  tcpdump.on('exit', (code) => reject(new Error(`tcpdump exited ${code}`)));
});

const tlsServer = https.createServer({ key, cert, ALPNProtocols: ['http/1.1'] }, (req, res) => res.end('ok\n'));
const httpServer = http.createServer((req, res) => res.end('ok\n'));
await new Promise((r) => tlsServer.listen(TLS_PORT, '127.0.0.1', r));
await new Promise((r) => httpServer.listen(HTTP_PORT, '127.0.0.1', r));

function tlsHandshake() {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port: TLS_PORT, localAddress: '127.0.0.2', servername: 'sensor-demo.local',
      ALPNProtocols: ['h2', 'http/1.1'], rejectUnauthorized: false }, () => {
      s.end('GET / HTTP/1.1\r\nHost: sensor-demo.local\r\nConnection: close\r\n\r\n');
    });
    s.on('data', () => {});
    s.on('close', resolve);
    s.on('error', reject);
  });
}

function httpGet(path, headers) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: HTTP_PORT, localAddress: '127.0.0.2', path, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
  });
}

for (let i = 0; i < 60; i++) await tlsHandshake();
await httpGet('/', { 'User-Agent': 'demo-agent/1.0', Accept: '*/*', 'Accept-Language': 'en-US,en;q=0.9' });
await httpGet('/login', { 'User-Agent': 'demo-agent/1.0', Cookie: 'session=abc123; theme=dark', Referer: 'http://sensor-demo.local/' });
// The same device, a different TLS client: what a spoofed or compromised client looks like.
await promisify(execFile)('curl', ['-sk', '--noproxy', '*', '--max-time', '10', '--interface', '127.0.0.2', '--resolve', `sensor-demo.local:${TLS_PORT}:127.0.0.1`,
  `https://sensor-demo.local:${TLS_PORT}/`]);

await new Promise((r) => setTimeout(r, 500));
tcpdump.kill('SIGINT');
await new Promise((r) => tcpdump.on('exit', r));
tlsServer.close();
httpServer.close();
rmSync(dir, { recursive: true, force: true });
console.log(`recorded ${out}`);
