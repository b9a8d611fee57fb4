import { Ja4sshWindow } from '../../src/fingerprint/ja4ssh.js';
import { FIN, ACK, runPackets, TcpConversation } from './helpers/netbuild.js';
import { kexinitPayload, OPENSSH_LISTS, sshPacket } from './helpers/sshbuild.js';

describe('JA4SSH window', () => {
  test('modes take the smaller length on a tie; counts and ACKs per side', () => {
    const w = new Ja4sshWindow();
    for (const len of [36, 36, 128, 200, 200]) w.sshPacket(true, len);
    w.sshPacket(false, 52);
    w.ack(true);
    w.ack(false);
    w.ack(false);
    expect(w.fingerprint()).toBe('c36s52_c5s1_c1s2');
    w.reset();
    expect(w.fingerprint()).toBeNull();
    w.ack(true);
    expect(w.fingerprint()).toBeNull();
  });
});

describe('JA4SSH through the engine', () => {
  test('an SSH banner that is not followed by a key exchange', () => {
    const c = new TcpConversation('10.0.0.5', '10.0.0.6', 50022, 22).handshake();
    c.data(false, 'SSH-2.0-OpenSSH_8.9\r\n');
    c.ack(true);
    c.data(true, 'SSH-2.0-Go\r\n');
    c.ack(false);
    c.send(true, FIN | ACK);
    c.send(false, FIN | ACK);
    c.ack(true);
    const recs = runPackets(c.packets).filter((r) => r.type === 'ja4ssh');
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({
      value: 'c12s21_c1s1_c3s1', frame: c.packets.length, src: '10.0.0.5', dst_port: 22,
      ssh_protocol_client: 'SSH-2.0-Go', ssh_protocol_server: 'SSH-2.0-OpenSSH_8.9',
    });
    expect(recs[0].hassh).toBeUndefined();
  });

  test('the window size is configurable; the last partial window is flushed at the end', () => {
    const c = new TcpConversation('10.0.0.5', '10.0.0.6', 50023, 22).handshake();
    c.data(true, 'SSH-2.0-c\r\n');
    c.data(false, 'SSH-2.0-s\r\n');
    c.data(true, sshPacket(kexinitPayload(OPENSSH_LISTS)));
    c.data(false, sshPacket(kexinitPayload(OPENSSH_LISTS)));
    c.data(true, Buffer.alloc(48));
    const recs = runPackets(c.packets, { sshWindowPackets: 2 }).filter((r) => r.type === 'ja4ssh');
    expect(recs.map((r) => r.value)).toEqual(['c11s11_c1s1_c1s0', expect.stringMatching(/^c\d+s\d+_c1s1_c0s0$/), 'c48s0_c1s0_c0s0']);
    expect(recs[1].hassh).toBe(recs[1].hassh_server);
    expect(recs[1].encryption_algorithm).toBe('chacha20-poly1305@openssh.com');
  });

  test('connections on other ports are ignored', () => {
    const c = new TcpConversation('10.0.0.5', '10.0.0.6', 50024, 2222).handshake();
    c.data(true, 'SSH-2.0-c\r\n');
    expect(runPackets(c.packets).filter((r) => r.type === 'ja4ssh')).toEqual([]);
  });
});
