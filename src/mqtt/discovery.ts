/**
 * Home Assistant MQTT discovery: retained config messages that make a sensor's health values and its
 * alerts appear in Home Assistant without any YAML. Pure: builds the messages, publishes nothing.
 */
import { homeAssistantId, type SensorTopics } from './topics.js';

export interface DiscoveryMessage {
  topic: string;
  payload: string;
}

interface Entity {
  component: 'sensor' | 'binary_sensor';
  object: string;
  name: string;
  template: string;
  unit?: string;
  deviceClass?: string;
  stateClass?: string;
  entityCategory?: 'diagnostic';
}

/** Health fields (see src/health/sample.ts) exposed as entities. */
const HEALTH_ENTITIES: readonly Entity[] = [
  { component: 'sensor', object: 'cpu_temp', name: 'CPU temperature', template: '{{ value_json.cpu_temp_c }}', unit: '°C', deviceClass: 'temperature', stateClass: 'measurement' },
  { component: 'sensor', object: 'cpu_load', name: 'CPU load', template: '{{ value_json.cpu_load_pct }}', unit: '%', stateClass: 'measurement' },
  { component: 'sensor', object: 'mem_used', name: 'Memory used', template: '{{ value_json.mem_used_pct }}', unit: '%', stateClass: 'measurement' },
  { component: 'sensor', object: 'disk_used', name: 'Data disk used', template: '{{ value_json.disk_used_pct }}', unit: '%', stateClass: 'measurement' },
  { component: 'sensor', object: 'uptime', name: 'Uptime', template: '{{ value_json.uptime_s }}', unit: 's', deviceClass: 'duration', entityCategory: 'diagnostic' },
  { component: 'sensor', object: 'rss', name: 'Sensor memory (RSS)', template: '{{ value_json.rss_bytes }}', unit: 'B', deviceClass: 'data_size', stateClass: 'measurement', entityCategory: 'diagnostic' },
  { component: 'sensor', object: 'event_loop_lag', name: 'Event loop lag (p99)', template: '{{ value_json.event_loop_lag_p99_ms }}', unit: 'ms', deviceClass: 'duration', stateClass: 'measurement', entityCategory: 'diagnostic' },
  { component: 'binary_sensor', object: 'under_voltage', name: 'Under-voltage', template: "{{ 'ON' if value_json.throttled and value_json.throttled.under_voltage_now else 'OFF' }}", deviceClass: 'problem' },
  { component: 'binary_sensor', object: 'throttled', name: 'Throttled', template: "{{ 'ON' if value_json.throttled and (value_json.throttled.throttled_now or value_json.throttled.freq_capped_now) else 'OFF' }}", deviceClass: 'problem' },
];

export function discoveryMessages(opts: {
  sensorId: string;
  topics: SensorTopics;
  discoveryPrefix: string;
  version?: string;
}): DiscoveryMessage[] {
  const id = homeAssistantId(opts.sensorId);
  const node = `ja4_${id}`;
  const device = {
    identifiers: [`ja4_sensor_${id}`],
    name: `JA4 sensor ${opts.sensorId}`,
    manufacturer: 'ja4-sensor',
    model: 'JA4+ network sensor',
    ...(opts.version ? { sw_version: opts.version } : {}),
  };
  const availability = {
    availability_topic: opts.topics.status,
    payload_available: 'online',
    payload_not_available: 'offline',
  };

  const messages = HEALTH_ENTITIES.map((e) => ({
    topic: `${opts.discoveryPrefix}/${e.component}/${node}/${e.object}/config`,
    payload: JSON.stringify({
      name: e.name,
      unique_id: `${node}_${e.object}`,
      object_id: `${node}_${e.object}`,
      state_topic: opts.topics.health,
      value_template: e.template,
      ...(e.unit ? { unit_of_measurement: e.unit } : {}),
      ...(e.deviceClass ? { device_class: e.deviceClass } : {}),
      ...(e.stateClass ? { state_class: e.stateClass } : {}),
      ...(e.entityCategory ? { entity_category: e.entityCategory } : {}),
      ...availability,
      device,
    }),
  }));
  // The alert JSON carries `event_type: "alert"`, which is exactly what an MQTT event entity expects;
  // its other fields become the event's attributes.
  messages.push({
    topic: `${opts.discoveryPrefix}/event/${node}/alert/config`,
    payload: JSON.stringify({
      name: 'Alert',
      unique_id: `${node}_alert`,
      object_id: `${node}_alert`,
      state_topic: opts.topics.alerts,
      event_types: ['alert'],
      ...availability,
      device,
    }),
  });
  return messages;
}
