/** Runs the fingerprint engine over one capture source: the core of `sensorctl fingerprint` and of the daemon. */
import { CaptureRun, type CaptureResult, type CaptureSpec } from '../capture/source.js';
import { FingerprintEngine, type EngineConfig, type RecordHandler } from './engine.js';

/** pcapng DSB secrets type for a TLS key log (NSS format). */
export const SECRETS_TLS_KEYLOG = 0x544c534b;

export interface FingerprintRun {
  engine: FingerprintEngine;
  capture: CaptureRun;
  /** Resolves after the capture ended and every flow was flushed. */
  done: Promise<CaptureResult>;
}

export function startFingerprinting(spec: CaptureSpec, onRecord: RecordHandler, config: EngineConfig = {}, keyLog?: Buffer): FingerprintRun {
  const engine = new FingerprintEngine(onRecord, config);
  if (keyLog) engine.addSecrets(SECRETS_TLS_KEYLOG, keyLog);
  const capture = new CaptureRun(spec, (frame) => engine.handleFrame(frame), (type, data) => engine.addSecrets(type, data));
  const done = capture.done.finally(() => engine.finish());
  return { engine, capture, done };
}
