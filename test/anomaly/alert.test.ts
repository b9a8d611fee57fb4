import { buildAlert, eveProto } from '../../src/anomaly/alert.js';
import { BehaviorProfiler } from '../../src/anomaly/profiler.js';

test('an alert is one EVE-shaped JSON object', () => {
  const p = new BehaviorProfiler({ minSeen: 2 });
  const key = 'ja4>ja4t:t13d1516h2_8daaf6152771_02713d6af862';
  p.observe(key, 'a', 1);
  p.observe(key, 'a', 2);
  const verdict = p.observe(key, '64240_2-4-8-1-3_1460_7', 3)!;
  const alert = buildAlert(verdict, { src_ip: '192.168.1.20', src_port: 51234, dest_ip: '93.184.216.34', dest_port: 443, proto: 'tcp' },
    'pi-kitchen', Date.parse('2024-05-01T12:00:00.123Z'));
  expect(JSON.parse(JSON.stringify(alert))).toEqual({
    timestamp: '2024-05-01T12:00:00.123+0000',
    sensor_id: 'pi-kitchen',
    event_type: 'alert',
    alert: {
      kind: 'new_companion',
      severity: 'high',
      anchor: key,
      companion: '64240_2-4-8-1-3_1460_7',
      count: 1,
      total_seen: 3,
      message: verdict.message,
    },
    flow: { src_ip: '192.168.1.20', src_port: 51234, dest_ip: '93.184.216.34', dest_port: 443, proto: 'TCP' },
  });
});

test('a capture time no ISO 8601 timestamp can say is clamped, not thrown', () => {
  const p = new BehaviorProfiler({ minSeen: 1 });
  p.observe('ja4>ja4t:a', 'x', 1);
  const verdict = p.observe('ja4>ja4t:a', 'y', 2)!;
  const flow = { src_ip: '10.0.0.1', src_port: 1, dest_ip: '10.0.0.2', dest_port: 2, proto: 'tcp' };
  expect(buildAlert(verdict, flow, 's', 9e18).timestamp).toBe('9999-12-31T23:59:59.999+0000');
  expect(buildAlert(verdict, flow, 's', 8e15).timestamp).toBe('9999-12-31T23:59:59.999+0000'); // year 255479
  expect(buildAlert(verdict, flow, 's', Number.NaN).timestamp).toBe('1970-01-01T00:00:00.000+0000');
});

test('protocol names follow EVE', () => {
  expect(eveProto(6)).toBe('TCP');
  expect(eveProto(17)).toBe('UDP');
  expect(eveProto('udp')).toBe('UDP');
});
