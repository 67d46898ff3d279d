/**
 * One jest run over every package. Tests import packages from their sources (`src/`), so a test
 * run checks the code being edited; the build (run before `npm test`) checks the published `dist/`.
 * @type {import('jest').Config}
 */
const packages = 'telemetry|redis|queue|ops|ratelimit|locks|notifications|sessions|outbox|cli|dashboard|testing';

module.exports = {
  testEnvironment: 'node',
  // No watchman on CI machines; jest would otherwise wait for it.
  watchman: false,
  rootDir: __dirname,
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
    '^.+\\.lua$': '<rootDir>/jest/lua-transform.js',
    '^.+\\.sql$': '<rootDir>/jest/lua-transform.js',
  },
  moduleFileExtensions: ['ts', 'js', 'json', 'lua', 'sql'],
  moduleNameMapper: {
    '^@platform/redis/internal$': '<rootDir>/packages/redis/src/internal.ts',
    [`^@platform/(${packages})$`]: '<rootDir>/packages/$1/src/index.ts',
  },
  testMatch: [
    '<rootDir>/packages/*/src/**/*.test.ts',
    '<rootDir>/examples/*/src/**/*.test.ts',
    '<rootDir>/bench/src/**/*.test.ts',
    '<rootDir>/test/**/*.test.ts',
  ],
  globalSetup: '<rootDir>/jest/global-setup.ts',
  globalTeardown: '<rootDir>/jest/global-teardown.ts',
  testTimeout: 60_000,
  // Two cores: two workers keep Redis and the test processes from starving each other.
  maxWorkers: process.env.CI ? 2 : '50%',
};
