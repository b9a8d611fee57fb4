import { walkFrames, type FrameSink } from '../../../src/fingerprint/quic/frames.js';

function walk(hex: string): { ok: boolean; seen: string[] } {
  const buf = Buffer.from(hex.replace(/\s+/g, ''), 'hex');
  const seen: string[] = [];
  const sink: FrameSink = {
    crypto: (offset, b, o, l) => seen.push(`crypto@${offset}:${b.subarray(o, o + l).toString('hex')}`),
    stream: (id, offset, b, o, l, fin) => seen.push(`stream${id}@${offset}:${b.subarray(o, o + l).toString('hex')}${fin ? ' fin' : ''}`),
  };
  return { ok: walkFrames(buf, 0, buf.length, sink), seen };
}

describe('walkFrames (RFC 9000 §19)', () => {
  test('CRYPTO frames between PADDING and PING runs, as Chrome scatters them', () => {
    expect(walk('000000 06 00 03 aabbcc 0000 01 06 4003 02 ddee 00000000')).toEqual({
      ok: true,
      seen: ['crypto@0:aabbcc', 'crypto@3:ddee'],
    });
  });

  test('ACK with ranges and ECN counts, then CRYPTO', () => {
    // ACK largest=10 delay=0 ranges=2 first=1, (gap 1, len 2) x2; ACK_ECN adds three counts.
    expect(walk('02 0a 00 02 01 01 02 01 02  03 0a 00 00 01 05 06 07  06 00 01 ff')).toEqual({ ok: true, seen: ['crypto@0:ff'] });
  });

  test('STREAM with and without offset/length; FIN', () => {
    expect(walk('0e 04 05 02 aabb  0b 08 02 ccdd  09 00 eeff')).toEqual({
      ok: true,
      seen: ['stream4@5:aabb', 'stream8@0:ccdd fin', 'stream0@0:eeff fin'],
    });
  });

  test('NEW_CONNECTION_ID, CONNECTION_CLOSE and NEW_TOKEN are skipped', () => {
    const ncid = `18 01 00 04 01020304 ${'00'.repeat(16)}`;
    expect(walk(`${ncid} 07 02 abcd 1c 00 00 02 6869 06 00 01 42`)).toEqual({ ok: true, seen: ['crypto@0:42'] });
  });

  test('a frame running past the end, or an unknown type, stops the walk with false', () => {
    expect(walk('06 00 05 aabb')).toEqual({ ok: false, seen: [] });
    expect(walk('06 00 01 aa 02 0a')).toEqual({ ok: false, seen: ['crypto@0:aa'] });
    expect(walk('06 00 01 aa 3f')).toEqual({ ok: false, seen: ['crypto@0:aa'] });
    expect(walk('02 0a 00 4f ff')).toEqual({ ok: false, seen: [] }); // 4095 ranges announced, none present
    expect(walk('02 0a 00 8000ffff 00')).toEqual({ ok: false, seen: [] }); // 65535 ranges: refused outright
  });
});
