/** Public surface of device health sampling, for the daemon. */
export { HealthSampler, HEALTH_DEFAULTS, healthConfigSchema, findCpuThermalZone } from './sampler.js';
export type { HealthSample, HealthSamplerOptions } from './sampler.js';
export { decodeThrottled, parseThrottled, throttleReader, SYSFS_THROTTLED } from './throttle.js';
export type { ThrottleFlags, ThrottleReader, ThrottleSourceOptions } from './throttle.js';
