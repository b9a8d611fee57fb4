import { Decoder } from '../../src/capture/decode.js';
import { DEFAULT_FLOW_OPTIONS, Flow, FlowTable, type FlowTableOptions } from '../../src/capture/flow-table.js';
import { Packet } from '../../src/capture/packet.js';
import { DEFAULT_STREAM_LIMITS, ReassemblyBudget, SEGMENT_OVERHEAD, TcpStream } from '../../src/capture/tcp-stream.js';
import { ACK, FIN, LINK_ETHERNET, PSH, RST, SYN, tcpFrame, udpFrame } from '../helpers/packets.js';

const decoder = new Decoder();

/** Decodes a hand-built Ethernet frame into a fresh Packet stamped with `tsSec` seconds. */
function pkt(frame: Buffer, tsSec = 0): Packet {
  const p = new Packet();
  p.tsUs = tsSec * 1e6;
  if (!decoder.decode(LINK_ETHERNET, frame, p)) throw new Error('test frame did not decode');
  return p;
}

const A = '10.0.0.5';
const B = '10.0.0.9';

function table(opts: Partial<FlowTableOptions> = {}) {
  const ended: Flow[] = [];
  const t = new FlowTable({ ...DEFAULT_FLOW_OPTIONS, ...opts }, (f) => ended.push(f));
  return { t, ended };
}

function endpoints(f: Flow): string {
  return `${f.client}:${f.clientPort} -> ${f.server}:${f.serverPort}`;
}

describe('client and server', () => {
  test('the SYN sender is the client, whatever the ports', () => {
    const { t } = table();
    const f = t.lookup(pkt(tcpFrame({ src: B, dst: A, sport: 443, dport: 50000, flags: SYN })));
    expect(endpoints(f)).toBe(`${B}:443 -> ${A}:50000`);
    expect(t.fromClient).toBe(true);
    expect(f.transport).toBe('tcp');
  });

  test('a SYN-ACK seen first makes its receiver the client', () => {
    const { t } = table();
    const f = t.lookup(pkt(tcpFrame({ src: A, dst: B, sport: 40000, dport: 41000, flags: SYN | ACK })));
    expect(endpoints(f)).toBe(`${B}:41000 -> ${A}:40000`);
    expect(t.fromClient).toBe(false);
  });

  test('both directions share one flow and fromClient tells them apart', () => {
    const { t } = table();
    const f1 = t.lookup(pkt(tcpFrame({ src: A, dst: B, sport: 50000, dport: 443, flags: SYN })));
    expect(t.fromClient).toBe(true);
    const f2 = t.lookup(pkt(tcpFrame({ src: B, dst: A, sport: 443, dport: 50000, flags: SYN | ACK })));
    expect(t.fromClient).toBe(false);
    const f3 = t.lookup(pkt(tcpFrame({ src: A, dst: B, sport: 50000, dport: 443, flags: ACK })));
    expect(t.fromClient).toBe(true);
    expect(f2).toBe(f1);
    expect(f3).toBe(f1);
    expect(f1.packets).toBe(3);
    expect(t.size).toBe(1);
  });

  test('the client may sort either side of the server (the key is direction-free)', () => {
    const { t } = table();
    // Client address above the server's.
    const f = t.lookup(pkt(tcpFrame({ src: B, dst: A, sport: 1, dport: 2, flags: SYN })));
    t.lookup(pkt(tcpFrame({ src: A, dst: B, sport: 2, dport: 1, flags: SYN | ACK })));
    expect(t.fromClient).toBe(false);
    t.lookup(pkt(tcpFrame({ src: B, dst: A, sport: 1, dport: 2, flags: ACK })));
    expect(t.fromClient).toBe(true);
    expect(endpoints(f)).toBe(`${B}:1 -> ${A}:2`);
  });

  test.each([
    ['mid-connection, server on a well-known port (from server)', 443, 51000, `${B}:51000 -> ${A}:443`],
    ['mid-connection, server on a well-known port (from client)', 51000, 443, `${A}:51000 -> ${B}:443`],
    ['proxy port 8080', 8080, 60000, `${B}:60000 -> ${A}:8080`],
    ['proxy port 3128', 33333, 3128, `${A}:33333 -> ${B}:3128`],
    ['both ephemeral: the sender is taken as the client', 50000, 50001, `${A}:50000 -> ${B}:50001`],
    ['both well-known: the higher port is the client', 80, 1023, `${B}:1023 -> ${A}:80`],
  ])('%s', (_what, sport, dport, expected) => {
    const { t } = table();
    const f = t.lookup(pkt(tcpFrame({ src: A, dst: B, sport, dport, flags: PSH | ACK, payload: Buffer.from('x') })));
    expect(endpoints(f)).toBe(expected);
  });

  test('UDP flows use the port rule and have their own key', () => {
    const { t } = table();
    const f = t.lookup(pkt(udpFrame({ src: A, dst: B, sport: 53, dport: 40000 })));
    expect(endpoints(f)).toBe(`${B}:40000 -> ${A}:53`);
    expect(f.transport).toBe('udp');
    const g = t.lookup(pkt(tcpFrame({ src: A, dst: B, sport: 53, dport: 40000 })));
    expect(g).not.toBe(f);
    expect(t.size).toBe(2);
  });

  test('IPv6 endpoints are printed compressed', () => {
    const { t } = table();
    const f = t.lookup(pkt(tcpFrame({ src: '2001:db8::1', dst: '2001:db8::2', sport: 50000, dport: 443, flags: SYN })));
    expect(endpoints(f)).toBe('2001:db8::1:50000 -> 2001:db8::2:443');
  });

  test('flows differing only by a port or an address are distinct', () => {
    const { t } = table();
    t.lookup(pkt(tcpFrame({ src: A, dst: B, sport: 1, dport: 2 })));
    t.lookup(pkt(tcpFrame({ src: A, dst: B, sport: 1, dport: 3 })));
    t.lookup(pkt(tcpFrame({ src: A, dst: '10.0.0.10', sport: 1, dport: 2 })));
    t.lookup(pkt(tcpFrame({ src: B, dst: A, sport: 2, dport: 1 })));
    expect(t.size).toBe(3);
  });
});

describe('eviction', () => {
  const open = (t: FlowTable, port: number, tsSec: number, opts: { udp?: boolean } = {}) =>
    t.lookup(pkt(opts.udp ? udpFrame({ src: A, dst: B, sport: port, dport: 53 }) : tcpFrame({ src: A, dst: B, sport: port, dport: 443, flags: SYN }), tsSec));

  test('at the cap, the oldest flow goes first', () => {
    const { t, ended } = table({ maxFlows: 3 });
    for (let port = 1000; port < 1006; port++) open(t, port, 0);
    expect(t.size).toBe(3);
    expect(t.evictedForCap).toBe(3);
    expect(ended.map((f) => f.clientPort)).toEqual([1000, 1001, 1002]);
    // Activity does not change the order: eviction is by creation.
    open(t, 1003, 1);
    open(t, 1006, 1);
    expect(ended.map((f) => f.clientPort)).toEqual([1000, 1001, 1002, 1003]);
  });

  test('at the cap, idle flows are swept before a live one is evicted', () => {
    const { t, ended } = table({ maxFlows: 3, tcpIdleSeconds: 10 });
    open(t, 1000, 0); // live: refreshed below
    open(t, 1001, 0); // idle
    open(t, 1002, 0);
    open(t, 1000, 15);
    open(t, 1002, 15);
    open(t, 1003, 15);
    expect(ended.map((f) => f.clientPort)).toEqual([1001]);
    expect(t.evictedIdle).toBe(1);
    expect(t.evictedForCap).toBe(0);
  });

  test('idle flows are swept after their idle time (TCP and UDP separately)', () => {
    const { t, ended } = table({ tcpIdleSeconds: 300, udpIdleSeconds: 60 });
    open(t, 1000, 0);
    open(t, 2000, 0, { udp: true });
    t.sweep(59e6);
    expect(t.size).toBe(2);
    t.sweep(61e6);
    expect(ended.map((f) => f.transport)).toEqual(['udp']);
    t.sweep(299e6);
    expect(t.size).toBe(1);
    t.sweep(301e6);
    expect(t.size).toBe(0);
    expect(t.evictedIdle).toBe(2);
  });

  test('one packet stamped far in the future does not stop idle sweeps for the rest of the run', () => {
    const { t } = table({ udpIdleSeconds: 1 });
    const future = new Packet();
    future.tsUs = 4e15; // year 2096
    t.sweepIfDue(future);
    for (let i = 0; i < 10_000; i++) {
      open(t, 3000 + (i % 20_000), 10 + i / 1000, { udp: true });
      const now = new Packet();
      now.tsUs = (10 + i / 1000) * 1e6;
      t.sweepIfDue(now);
    }
    // 10 s of flows, each idle after 1 s: once the table counts from the capture's own time again
    // (after 4096 packets), it sweeps as before.
    expect(t.evictedIdle).toBeGreaterThan(3000);
  });

  test('an unforced sweep runs at most once a second of capture time', () => {
    const { t } = table({ udpIdleSeconds: 1 });
    open(t, 2000, 0, { udp: true });
    t.sweep(1.5e6); // runs: the flow is 1.5 s idle, past its 1 s
    expect(t.size).toBe(0);
    open(t, 2001, 0.2, { udp: true });
    t.sweep(2.4e6); // 2.2 s idle, but less than a second after the last sweep: skipped
    expect(t.size).toBe(1);
    t.sweep(2.4e6, true);
    expect(t.size).toBe(0);
  });

  test('a closed connection lingers briefly, then goes (FIN both ways, or RST)', () => {
    const { t, ended } = table({ closedLingerSeconds: 5, tcpIdleSeconds: 300 });
    const fin = open(t, 1000, 0);
    t.lookup(pkt(tcpFrame({ src: A, dst: B, sport: 1000, dport: 443, flags: FIN | ACK }), 1));
    expect(fin.closed).toBe(false);
    t.lookup(pkt(tcpFrame({ src: B, dst: A, sport: 443, dport: 1000, flags: FIN | ACK }), 1));
    expect(fin.closed).toBe(true);
    expect(fin.finSeen).toBe(3);
    const rst = open(t, 1001, 0);
    t.lookup(pkt(tcpFrame({ src: B, dst: A, sport: 443, dport: 1001, flags: RST }), 1));
    expect(rst.closed).toBe(true);
    const halfClosed = open(t, 1002, 1);
    t.lookup(pkt(tcpFrame({ src: A, dst: B, sport: 1002, dport: 443, flags: FIN | ACK }), 1));
    t.sweep(5.5e6);
    expect(t.size).toBe(3);
    t.sweep(7e6);
    expect(ended).toEqual([fin, rst]);
    expect(t.size).toBe(1);
    expect(halfClosed.closed).toBe(false);
  });

  test('drain ends every flow', () => {
    const { t, ended } = table();
    for (let port = 1000; port < 1010; port++) open(t, port, 0);
    t.drain();
    expect(t.size).toBe(0);
    expect(ended).toHaveLength(10);
  });

  test('FIFO eviction stays in creation order through interleaved idle sweeps', () => {
    const { t, ended } = table({ maxFlows: 100, udpIdleSeconds: 5, tcpIdleSeconds: 1000 });
    // UDP flows (idle quickly) interleaved with TCP ones (never idle here).
    for (let i = 0; i < 100; i++) open(t, 1000 + i, 0, { udp: i % 2 === 1 });
    t.sweep(10e6);
    expect(t.size).toBe(50);
    for (let i = 0; i < 60; i++) open(t, 5000 + i, 10);
    expect(t.size).toBe(100);
    const capEvicted = ended.slice(50).map((f) => f.clientPort);
    expect(capEvicted).toEqual(Array.from({ length: 10 }, (_, i) => 1000 + i * 2));
  });

  test('a flow leaving the table gives its queued reassembly bytes back to the budget', () => {
    const budget = new ReassemblyBudget(1 << 20);
    const { t } = table({ maxFlows: 2 });
    for (let port = 1000; port < 1004; port++) {
      const f = open(t, port, 0);
      const s = f.streams[0] = new TcpStream(DEFAULT_STREAM_LIMITS, budget);
      s.setInitialSequence(0);
      s.push(100, Buffer.alloc(500), () => {});
    }
    expect(t.size).toBe(2);
    expect(budget.used).toBe(2 * (500 + SEGMENT_OVERHEAD));
    t.sweep(1e9, true);
    expect(budget.used).toBe(0);
  });
});
