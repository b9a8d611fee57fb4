/** ESM TypeScript tests run straight from source through ts-jest; the CLI and daemon are run as subprocesses from dist/. */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 60000,
  // Subprocess-heavy suites share the two cores of CI badly when run all at once.
  maxWorkers: 2,
};
