import { SshDirectionTracker, SshSession } from '../../../src/fingerprint/ssh/dissector.js';
import { kexinitPayload, NEWKEYS, OPENSSH_LISTS, sshPacket, sshString } from '../helpers/sshbuild.js';

/** Feeds segments of one direction; returns which frames show an SSH layer. */
function run(session: SshSession, tracker: SshDirectionTracker, segs: { seq: number; data: Buffer; frame: number }[], isResponse: boolean): boolean[] {
  return segs.map((s) => tracker.segment(session, s.seq, s.data, s.frame, isResponse));
}

function split(data: Buffer, sizes: number[], seq0: number, frame0: number): { seq: number; data: Buffer; frame: number }[] {
  const out = [];
  let off = 0;
  for (let i = 0; i < sizes.length; i++) {
    out.push({ seq: seq0 + off, data: data.subarray(off, off + sizes[i]), frame: frame0 + i });
    off += sizes[i];
  }
  if (off !== data.length) throw new Error('sizes do not cover the data');
  return out;
}

describe('SSH dissector replay', () => {
  test('banner, then a KEXINIT over three segments: the middle one is not an SSH frame', () => {
    const s = new SshSession();
    const t = new SshDirectionTracker();
    const banner = Buffer.from('SSH-2.0-OpenSSH_9.6\r\n');
    const kex = sshPacket(kexinitPayload(OPENSSH_LISTS, 2500));
    const stream = Buffer.concat([banner, kex]);
    const segs = split(stream, [banner.length, 1000, 1000, kex.length - 2000], 100, 1);
    expect(run(s, t, segs, false)).toEqual([true, true, false, true]);
    expect(s.clientBanner).toBe('SSH-2.0-OpenSSH_9.6');
    expect(s.hassh).not.toBeNull();
  });

  test('retransmitted segments are not dissected again', () => {
    const s = new SshSession();
    const t = new SshDirectionTracker();
    const banner = Buffer.from('SSH-2.0-x\r\n');
    expect(t.segment(s, 1, banner, 1, false)).toBe(true);
    expect(t.segment(s, 1, banner, 2, false)).toBe(false);
    expect(t.segment(s, 1 + banner.length, Buffer.alloc(50, 7), 3, false)).toBe(true);
  });

  test('after NEWKEYS every segment is one encrypted packet, even with a bogus length', () => {
    const s = new SshSession();
    const t = new SshDirectionTracker();
    const stream = Buffer.concat([Buffer.from('SSH-2.0-x\r\n'), sshPacket(kexinitPayload(OPENSSH_LISTS)), NEWKEYS]);
    expect(t.segment(s, 0, stream, 1, false)).toBe(true);
    expect(t.segment(s, stream.length, Buffer.alloc(48, 0xff), 2, false)).toBe(true);
    expect(t.segment(s, stream.length + 48, Buffer.alloc(64, 0xee), 3, false)).toBe(true);
  });

  test('a malformed key exchange reply loses NEWKEYS: later server data waits for a message that never ends', () => {
    const s = new SshSession();
    const client = new SshDirectionTracker();
    const server = new SshDirectionTracker();
    const gex = { ...OPENSSH_LISTS, kex: 'diffie-hellman-group-exchange-sha256' };
    client.segment(s, 0, Buffer.concat([Buffer.from('SSH-2.0-c\r\n'), sshPacket(kexinitPayload(gex))]), 1, false);
    server.segment(s, 0, Buffer.concat([Buffer.from('SSH-2.0-s\r\n'), sshPacket(kexinitPayload(gex))]), 2, true);
    // GEX reply: host key "ssh-rsa" whose e claims 0x78787878 bytes, then NEWKEYS in the same segment.
    const hostKey = Buffer.concat([sshString('ssh-rsa'), Buffer.from('78787878', 'hex'), Buffer.alloc(20)]);
    const reply = sshPacket(Buffer.concat([Buffer.of(33), sshString(hostKey), sshString(Buffer.alloc(8)), sshString(Buffer.alloc(8))]));
    const seq = 10_000;
    expect(server.segment(s, seq, Buffer.concat([reply, NEWKEYS]), 3, true)).toBe(true);
    // The first encrypted packet is read as a key exchange packet with a huge length...
    expect(server.segment(s, seq + reply.length + NEWKEYS.length, Buffer.alloc(48, 0x61), 4, true)).toBe(true);
    // ...so the next one is inside that "message" and is not dissected.
    expect(server.segment(s, seq + reply.length + NEWKEYS.length + 48, Buffer.alloc(80, 0x62), 5, true)).toBe(false);
  });

  test('SSHv1 asks for four bytes too few; the tail is taken for a new packet and swallows what follows', () => {
    const s = new SshSession();
    const t = new SshDirectionTracker();
    s.dissect(Buffer.from('SSH-1.5-1.2.26\n'), 1, false);
    expect(s.version).toBe(1);
    // A v1 packet: length 473 → 7 bytes of padding → 484 bytes on the wire.
    const v1 = Buffer.alloc(484, 0x41);
    v1.writeUInt32BE(473, 0);
    const first = Buffer.concat([Buffer.from([0, 0, 0, 10]), Buffer.alloc(16, 1), v1.subarray(0, 16)]);
    expect(t.segment(s, 0, first, 2, false)).toBe(true);
    expect(t.segment(s, first.length, v1.subarray(16), 3, false)).toBe(true);
    const next = Buffer.alloc(20, 0);
    next.writeUInt32BE(10, 0);
    expect(t.segment(s, first.length + 468, next, 4, false)).toBe(false);
  });

  test('a banner without a line end is lost, and the rest of that side is "encrypted"', () => {
    const s = new SshSession();
    const t = new SshDirectionTracker();
    expect(t.segment(s, 0, Buffer.from('SSH-2.0-Open'), 1, false)).toBe(true);
    expect(t.segment(s, 12, Buffer.from('SSH_9\r\n'), 2, false)).toBe(true);
    expect(s.clientBanner).toBeNull();
    expect(t.segment(s, 19, Buffer.alloc(5, 0), 3, false)).toBe(true);
  });

  test('random bytes never throw out of the tracker', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 300; i++) {
      const s = new SshSession();
      const t = [new SshDirectionTracker(), new SshDirectionTracker()];
      let seq = [0, 0];
      for (let j = 0; j < 20; j++) {
        const d = rnd() < 0.5 ? 0 : 1;
        const len = 1 + Math.floor(rnd() * 200);
        const data = Buffer.from(Array.from({ length: len }, () => Math.floor(rnd() * 256)));
        if (j === 0 && rnd() < 0.5) data.write('SSH-2.0-');
        expect(() => t[d].segment(s, seq[d], data, j + 1, d === 1)).not.toThrow();
        seq[d] += rnd() < 0.9 ? len : -len;
      }
    }
  });
});
