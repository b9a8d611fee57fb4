/** Every fingerprint family the engine can run; the config's method list decides which do. */
import type { AnalyzerFactory } from './analyzer.js';
import { createTlsAnalyzer } from './tls/analyzer.js';
import { createQuicAnalyzer } from './quic/analyzer.js';

export const ANALYZER_FACTORIES: readonly AnalyzerFactory[] = [
  createTlsAnalyzer,
  createQuicAnalyzer,
];
