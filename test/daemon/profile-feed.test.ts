import { Flow } from '../../src/capture/flow-table.js';
import { BehaviorProfiler } from '../../src/anomaly/profiler.js';
import { ProfileFeed, flowField } from '../../src/daemon/profile-feed.js';
import type { FingerprintRecord } from '../../src/fingerprint/record.js';

function flow(client = '10.0.0.1', server = '10.0.0.2', serverPort = 443): Flow {
  return new Flow('k', 'tcp', client, 50000, server, serverPort, true, 0, 1);
}

function record(f: Flow, type: FingerprintRecord['type'], value: string): FingerprintRecord {
  f.values[type] = value; // as the engine does before it hands the record on
  return { type, value, frame: 1, transport: f.transport, src: f.client, src_port: f.clientPort, dst: f.server, dst_port: f.serverPort };
}

describe('ProfileFeed', () => {
  test('a flow is observed once per pair, and again only for a different combination', () => {
    const profiler = new BehaviorProfiler({ pairs: [{ anchor: 'ja4', companion: 'ja4h' }] });
    const feed = new ProfileFeed(profiler);
    const f = flow();
    feed.onRecord(record(f, 'ja4', 'J'), f, 1);
    expect(feed.observations).toBe(0); // no JA4H yet
    feed.onRecord(record(f, 'ja4h', 'H1'), f, 2);
    feed.onRecord(record(f, 'ja4h', 'H1'), f, 3); // a second request with the same JA4H
    expect(feed.observations).toBe(1);
    feed.onRecord(record(f, 'ja4h', 'H2'), f, 4);
    expect(feed.observations).toBe(2);
    expect(profiler.countOf('ja4>ja4h:J', 'H1')).toBe(1);
    expect(profiler.countOf('ja4>ja4h:J', 'H2')).toBe(1);
    expect(profiler.totalOf('ja4>ja4h:J')).toBe(2);
  });

  test('pairs are tracked apart on one flow, and flows apart from each other', () => {
    const profiler = new BehaviorProfiler({ pairs: [{ anchor: 'client_ip', companion: 'ja4' }, { anchor: 'ja4', companion: 'ja4t' }] });
    const feed = new ProfileFeed(profiler);
    const a = flow('10.0.0.1');
    const b = flow('10.0.0.1');
    feed.onRecord(record(a, 'ja4t', 'T'), a, 1);
    feed.onRecord(record(a, 'ja4', 'J'), a, 2); // completes both pairs
    feed.onRecord(record(b, 'ja4t', 'T'), b, 3);
    feed.onRecord(record(b, 'ja4', 'J'), b, 4);
    expect(feed.observations).toBe(4);
    expect(profiler.countOf('client_ip>ja4:10.0.0.1', 'J')).toBe(2);
    expect(profiler.countOf('ja4>ja4t:J', 'T')).toBe(2);
  });

  test('an anchor and companion that concatenate alike are still different combinations', () => {
    const profiler = new BehaviorProfiler({ pairs: [{ anchor: 'ja4', companion: 'ja4h' }] });
    const feed = new ProfileFeed(profiler);
    const f = flow();
    f.values.ja4 = 'a\u0000b';
    feed.onRecord(record(f, 'ja4h', 'c'), f, 1);
    f.values.ja4 = 'a';
    feed.onRecord(record(f, 'ja4h', 'b\u0000c'), f, 2);
    expect(feed.observations).toBe(2);
  });

  test('the server field is address:port, IPv6 in brackets', () => {
    expect(flowField(flow('10.0.0.1', '192.0.2.7', 8443), 'server')).toBe('192.0.2.7:8443');
    expect(flowField(flow('2001:db8::1', '2001:db8::2', 443), 'server')).toBe('[2001:db8::2]:443');
    expect(flowField(flow(), 'server_port')).toBe('443');
    expect(flowField(flow(), 'ja4')).toBeUndefined();
  });
});
