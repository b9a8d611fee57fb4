/** Every fingerprint family the engine can run; the config's method list decides which do. */
import type { AnalyzerFactory } from './analyzer.js';
import { createDhcpAnalyzer } from './dhcp/analyzer.js';
import { createHttpAnalyzer } from './http/analyzer.js';
import { createQuicAnalyzer } from './quic/analyzer.js';
import { createSshAnalyzer } from './ssh/analyzer.js';
import { createTcpHandshakeAnalyzer } from './tcp-analyzer.js';
import { createTlsAnalyzer } from './tls/analyzer.js';

export const ANALYZER_FACTORIES: readonly AnalyzerFactory[] = [
  createTlsAnalyzer,
  createQuicAnalyzer,
  createTcpHandshakeAnalyzer,
  createDhcpAnalyzer,
  createHttpAnalyzer,
  createSshAnalyzer,
];
