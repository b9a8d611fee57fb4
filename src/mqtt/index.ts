/** Public surface of the MQTT publisher, for the daemon and the CLI. */
export { MqttPublisher } from './publisher.js';
export type { MqttPublisherOptions, PublisherState, PublisherStatus, SensorStats } from './publisher.js';
export { AlertOutbox } from './outbox.js';
export type { OutboxCounters, OutboxEntry, OutboxOptions } from './outbox.js';
export {
  checkMqttSettings,
  MQTT_DEFAULTS,
  MqttConfigError,
  mqttConfigSchema,
  resolveMqttConfig,
  validateMqttSection,
} from './config.js';
export type { MqttConfig, MqttConfigSection } from './config.js';
export { isDurableAtOnce } from './outbox.js';
export { clientIdForSensor, defaultTopicPrefix, topicsFor } from './topics.js';
export type { SensorTopics } from './topics.js';
export { reconnectDelay } from './backoff.js';
export { discoveryMessages } from './discovery.js';
