import { QUIC_HANDSHAKE, QUIC_INITIAL, QUIC_RETRY, QuicLatency, TcpLatency, quicLongPacketType } from '../../src/fingerprint/ja4l.js';
import { ACK, PSH, runPackets, SYN, tcpPacket, udpPacket } from './helpers/netbuild.js';

describe('TCP handshake latency', () => {
  test('(B-A)/2 and (C-B)/2 in whole microseconds, with each side\'s TTL', () => {
    const l = new TcpLatency();
    l.syn(1000, 128);
    l.synAck(35510.7, 63);
    expect(l.ack(35636)).toEqual({ client: '63_128', server: '17255_63' });
    expect(l.done).toBe(true);
    expect(l.ack(99999)).toBeNull();
  });

  test('an ACK before the SYN-ACK does nothing', () => {
    const l = new TcpLatency();
    l.syn(0, 64);
    expect(l.ack(10)).toBeNull();
  });
});

function quicLong(first: number, version: number): Buffer {
  const b = Buffer.alloc(40);
  b[0] = first;
  b.writeUInt32BE(version, 1);
  return b;
}

describe('QUIC packet types', () => {
  test('v1 long header types, short headers and version negotiation', () => {
    expect(quicLongPacketType(quicLong(0xc3, 1), 0, 40)).toBe(QUIC_INITIAL);
    expect(quicLongPacketType(quicLong(0xe0, 1), 0, 40)).toBe(QUIC_HANDSHAKE);
    expect(quicLongPacketType(quicLong(0x40, 1), 0, 40)).toBe(-1);
    expect(quicLongPacketType(quicLong(0xc0, 0), 0, 40)).toBe(-1);
    expect(quicLongPacketType(Buffer.alloc(3, 0xff), 0, 3)).toBe(-1);
  });

  test('QUIC v2 rotates the type bits', () => {
    expect(quicLongPacketType(quicLong(0xd0, 0x6b3343cf), 0, 40)).toBe(QUIC_INITIAL);
    expect(quicLongPacketType(quicLong(0xf0, 0x6b3343cf), 0, 40)).toBe(QUIC_HANDSHAKE);
    expect(quicLongPacketType(quicLong(0xc0, 0x6b3343cf), 0, 40)).toBe(QUIC_RETRY);
  });

  test('C is the last server Handshake packet before the client\'s first', () => {
    const q = new QuicLatency();
    expect(q.packet(true, QUIC_INITIAL, 0, 128)).toBeNull();
    expect(q.packet(false, QUIC_INITIAL, 18570, 57)).toBeNull();
    expect(q.packet(false, QUIC_HANDSHAKE, 20000, 57)).toBeNull();
    expect(q.packet(true, QUIC_INITIAL, 20100, 128)).toBeNull();
    expect(q.packet(false, QUIC_HANDSHAKE, 21000, 57)).toBeNull();
    expect(q.packet(true, QUIC_HANDSHAKE, 21558, 128)).toEqual({ client: '279_128', server: '9285_57' });
  });
});

describe('JA4L through the engine', () => {
  test('TCP: at the handshake ACK, TTLs from each side', () => {
    const c = { src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 80 };
    const s = { src: '10.0.0.2', dst: '10.0.0.1', sport: 80, dport: 40000 };
    const t0 = 1_600_000_000_000_000;
    const recs = runPackets([
      { tsUs: t0, data: tcpPacket({ ...c, flags: SYN, seq: 1, ttl: 128 }) },
      { tsUs: t0 + 20_000, data: tcpPacket({ ...s, flags: SYN | ACK, ttl: 57 }) },
      { tsUs: t0 + 20_100, data: tcpPacket({ ...c, flags: ACK, ttl: 128 }) },
      { tsUs: t0 + 20_200, data: tcpPacket({ ...c, flags: PSH | ACK, payload: Buffer.from('x'), ttl: 128 }) },
    ]);
    expect(recs.find((r) => r.type === 'ja4l')).toMatchObject({ value: '50_128', frame: 3, src: '10.0.0.1' });
    expect(recs.find((r) => r.type === 'ja4ls')).toMatchObject({ value: '10000_57', frame: 3, src: '10.0.0.1' });
  });

  test('QUIC: from Initial and Handshake packets on port 443', () => {
    const c = { src: '192.168.1.2', dst: '1.1.1.1', sport: 50000, dport: 443 };
    const s = { src: '1.1.1.1', dst: '192.168.1.2', sport: 443, dport: 50000 };
    const t0 = 1_600_000_000_000_000;
    const recs = runPackets([
      { tsUs: t0, data: udpPacket({ ...c, payload: quicLong(0xc3, 1), ttl: 128 }) },
      { tsUs: t0 + 8000, data: udpPacket({ ...s, payload: quicLong(0xc1, 1), ttl: 58 }) },
      { tsUs: t0 + 9000, data: udpPacket({ ...s, payload: quicLong(0xe1, 1), ttl: 58 }) },
      { tsUs: t0 + 9200, data: udpPacket({ ...c, payload: quicLong(0xe1, 1), ttl: 128 }) },
    ]);
    expect(recs.find((r) => r.type === 'ja4l')).toMatchObject({ value: '100_128', transport: 'udp', src: '192.168.1.2', frame: 4 });
    expect(recs.find((r) => r.type === 'ja4ls')).toMatchObject({ value: '4000_58' });
  });
});
