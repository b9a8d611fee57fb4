import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureError, CaptureRun, tcpdumpArgs, type CaptureSpec } from '../../src/capture/source.js';
import { pcapFile, tcpFrame } from '../helpers/packets.js';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'capture-source-')); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

const frames = [1, 2, 3].map((i) => ({ data: tcpFrame({ sport: 40000 + i, dport: 443, flags: 0x02 }) }));
const good = pcapFile(frames);

async function run(spec: CaptureSpec): Promise<{ frames: number[]; result?: unknown; error?: unknown }> {
  const seen: number[] = [];
  const r = new CaptureRun(spec, (f) => seen.push(f.frame));
  try {
    return { frames: seen, result: await r.done };
  } catch (error) {
    return { frames: seen, error };
  }
}

function expectCaptureError(error: unknown, message: RegExp | string, exitCode = 2): void {
  expect(error).toBeInstanceOf(CaptureError);
  const e = error as CaptureError;
  if (typeof message === 'string') expect(e.message).toBe(message); else expect(e.message).toMatch(message);
  expect(e.message).not.toContain('\n');
  expect(e.exitCode).toBe(exitCode);
}

describe('capture files', () => {
  test('a good file is read to its end', async () => {
    const path = join(dir, 'good.pcap');
    writeFileSync(path, good);
    const r = await run({ kind: 'file', path });
    expect(r.error).toBeUndefined();
    expect(r.frames).toEqual([1, 2, 3]);
    expect(r.result).toEqual({ frames: 3, bytes: good.length, stopped: false });
  });

  test('a file that does not exist', async () => {
    const path = join(dir, 'nope.pcap');
    const r = await run({ kind: 'file', path });
    expectCaptureError(r.error, `capture file not found: ${path}`);
  });

  test('a directory', async () => {
    const r = await run({ kind: 'file', path: dir });
    expectCaptureError(r.error, `${dir} is a directory, not a capture file`);
  });

  test('an empty file', async () => {
    const path = join(dir, 'empty.pcap');
    writeFileSync(path, '');
    const r = await run({ kind: 'file', path });
    expectCaptureError(r.error, `${path}: empty capture: no pcap or pcapng header at byte offset 0`);
  });

  test('a file that is not a capture', async () => {
    const path = join(dir, 'notes.txt');
    writeFileSync(path, 'hello, this is text\n');
    const r = await run({ kind: 'file', path });
    expectCaptureError(r.error, `${path}: not a pcap or pcapng capture (unknown magic number) at byte offset 0`);
  });

  test('a truncated file: frames up to the damage, then an error naming file and offset', async () => {
    const path = join(dir, 'cut.pcap');
    const cut = good.length - 5;
    writeFileSync(path, good.subarray(0, cut));
    const r = await run({ kind: 'file', path });
    expect(r.frames).toEqual([1, 2]);
    const lastRecord = good.length - 16 - frames[2].data.length;
    expectCaptureError(r.error, `${path}: truncated record (${cut - lastRecord} trailing bytes) at byte offset ${lastRecord}`);
  });

  test('a corrupt record header in a large file, damage found mid-stream', async () => {
    const many = pcapFile(Array.from({ length: 20000 }, (_, i) => ({ data: tcpFrame({ sport: 1024 + (i % 60000), dport: 80 }) })));
    const recLen = 16 + frames[0].data.length;
    const at = 24 + recLen * 15000;
    many.writeUInt32LE(0x20000000, at + 8);
    const path = join(dir, 'corrupt.pcap');
    writeFileSync(path, many);
    const r = await run({ kind: 'file', path });
    expect(r.frames).toHaveLength(15000);
    expectCaptureError(r.error, `${path}: corrupt pcap record header (captured length 536870912) at byte offset ${at}`);
  });
});

describe('memory', () => {
  // A sensord reading `tcpdump -w - |` runs for months: what it has read must not stay in memory.
  (process.platform === 'linux' ? test : test.skip)('a 300 MB capture is read with memory that does not grow with it (file and standard input)', () => {
    const big = join(dir, 'big.pcap');
    const record = Buffer.alloc(16 + 65536, 0);
    record.writeUInt32LE(65536, 8);
    record.writeUInt32LE(65536, 12);
    record.fill(0xff, 16, 28); // broadcast MACs, then an EtherType nothing decodes
    record.writeUInt16BE(0x88b5, 28);
    const fd = openSync(big, 'w');
    writeSync(fd, pcapFile([]));
    for (let i = 0; i < 4600; i++) writeSync(fd, record);
    closeSync(fd);
    // The peak RSS of a process reading the file through CaptureRun, as sensord does.
    const script = `
      const { CaptureRun } = await import(${JSON.stringify(join(process.cwd(), 'dist/capture/source.js'))});
      const file = process.argv[1];
      const spec = file === '-' ? { kind: 'stdin' } : { kind: 'file', path: file };
      const r = await new CaptureRun(spec, () => {}).done;
      // VmHWM, not resourceUsage().maxRSS: the latter keeps the peak of the forking parent (jest).
      const hwm = (await import('node:fs')).readFileSync('/proc/self/status', 'utf8').match(/VmHWM:\\s+(\\d+)/);
      process.stdout.write(JSON.stringify({ frames: r.frames, maxRssMb: Number(hwm[1]) / 1024 }));`;
    for (const [file, input] of [[big, undefined], ['-', readFileSync(big)]] as const) {
      const p = spawnSync(process.execPath, ['--input-type=module', '-e', script, file], { input, encoding: 'utf8', maxBuffer: 1 << 20 });
      expect(p.stderr).toBe('');
      const out = JSON.parse(p.stdout) as { frames: number; maxRssMb: number };
      expect(out.frames).toBe(4600);
      expect(out.maxRssMb).toBeLessThan(200); // it was above 330 MB when every chunk read stayed referenced
    }
    rmSync(big);
  });
});

describe('live capture through tcpdump', () => {
  function fakeTcpdump(name: string, script: string): string {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\n${script}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  test('tcpdump arguments: unbuffered pcap on stdout, full snap length, then the filter', () => {
    expect(tcpdumpArgs({ kind: 'interface', name: 'eth0', filter: 'tcp port 443' }))
      .toEqual(['-i', 'eth0', '-U', '-w', '-', '-s', '0', '-n', '--immediate-mode', 'tcp port 443']);
  });

  test('frames come from tcpdump\'s standard output', async () => {
    const capture = join(dir, 'live.pcap');
    writeFileSync(capture, good);
    const argsFile = join(dir, 'args.txt');
    const bin = fakeTcpdump('tcpdump-ok', `echo "$@" > '${argsFile}'\necho "tcpdump: listening on eth9" >&2\ncat '${capture}'`);
    const r = await run({ kind: 'interface', name: 'eth9', filter: 'tcp', tcpdumpPath: bin });
    expect(r.error).toBeUndefined();
    expect(r.frames).toEqual([1, 2, 3]);
    expect(readFileSync(argsFile, 'utf8').trim()).toBe('-i eth9 -U -w - -s 0 -n --immediate-mode tcp');
  });

  test('tcpdump missing', async () => {
    const r = await run({ kind: 'interface', name: 'eth0', tcpdumpPath: join(dir, 'no-such-tcpdump') });
    expectCaptureError(r.error, /^tcpdump not found: install it/, 3);
  });

  test('tcpdump failing says why, from its last line of stderr', async () => {
    const bin = fakeTcpdump('tcpdump-fail', 'echo "tcpdump: eth7: No such device exists" >&2\necho "(SIOCGIFHWADDR: No such device)" >&2\nexit 1');
    const r = await run({ kind: 'interface', name: 'eth7', tcpdumpPath: bin });
    expectCaptureError(r.error, 'tcpdump on interface eth7 exited with status 1: (SIOCGIFHWADDR: No such device)', 3);
  });

  test('stop() ends a live capture cleanly', async () => {
    const capture = join(dir, 'header.pcap');
    writeFileSync(capture, good);
    const bin = fakeTcpdump('tcpdump-slow', `cat '${capture}'\nexec sleep 30`);
    const seen: number[] = [];
    const r = new CaptureRun({ kind: 'interface', name: 'eth0', tcpdumpPath: bin }, (f) => {
      seen.push(f.frame);
      if (seen.length === 3) r.stop();
    });
    await expect(r.done).resolves.toEqual({ frames: 3, bytes: good.length, stopped: true });
  });
});
