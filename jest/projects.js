// The jest projects of this repository, shared by jest.config.js (`npm test`) and
// jest.cluster.config.js (the full cluster run of `npm run test:faults`).
const { join } = require('node:path');

const rootDir = join(__dirname, '..');
const packages = 'telemetry|redis|queue|ops|ratelimit|locks|notifications|sessions|outbox|cli|dashboard|testing';

/** What every project shares: TypeScript through ts-jest, packages imported from their sources. */
const base = {
  testEnvironment: 'node',
  rootDir,
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
    '^.+\\.lua$': '<rootDir>/jest/lua-transform.js',
    '^.+\\.sql$': '<rootDir>/jest/lua-transform.js',
  },
  moduleFileExtensions: ['ts', 'js', 'json', 'lua', 'sql'],
  moduleNameMapper: {
    '^@platform/redis/internal$': '<rootDir>/packages/redis/src/internal.ts',
    '^@platform/queue/internal$': '<rootDir>/packages/queue/src/internal.ts',
    [`^@platform/(${packages})$`]: '<rootDir>/packages/$1/src/index.ts',
  },
};

/** Every test against one standalone Redis (REDIS_URL, or a private redis-server per run). */
const standalone = {
  ...base,
  displayName: 'standalone',
  testMatch: [
    '<rootDir>/packages/*/src/**/*.test.ts',
    '<rootDir>/examples/*/src/**/*.test.ts',
    '<rootDir>/bench/src/**/*.test.ts',
    '<rootDir>/test/**/*.test.ts',
  ],
  globalSetup: '<rootDir>/jest/global-setup.ts',
  globalTeardown: '<rootDir>/jest/global-teardown.ts',
};

/** The package suites that run against a Redis Cluster (issue 20). */
const CLUSTER_SUITES = ['queue', 'ratelimit', 'locks', 'notifications', 'sessions'];

/**
 * Test files of those suites that run only in the standalone project, and why. Single tests that
 * cannot hold on a cluster are marked in their files with `standaloneOnly(it, reason)` instead.
 */
const STANDALONE_ONLY_FILES = [
  // Starts its own standalone master and replica to test waitForReplicas / replica reads: the
  // cluster's own replicas are covered by test/cluster (SIGKILL of a master under load).
  'packages/queue/src/replication.test.ts',
  // Each starts (and kills, or never starts) a standalone redis-server of its own to test what the
  // package does when Redis is down or refuses: nothing in them runs on the run's Redis.
  'packages/queue/src/connections.test.ts',
  'packages/ratelimit/src/unavailable.test.ts',
  'packages/sessions/src/unavailable.test.ts',
  // Starts a Redis Cluster of its own (3 masters, no replicas) to test the limiter's node batches.
  'packages/ratelimit/src/cluster-batching.test.ts',
  // Starts a Redis Cluster of its own (3 masters, 3 replicas) to move a slot and fail a master over.
  'packages/redis/src/slot-connection.test.ts',
];

/**
 * A project that runs `files` (paths under the repository) against the run's Redis Cluster:
 * jest/cluster-global-setup.ts starts 3 masters + 3 replicas, jest/cluster-env.ts points each
 * test file at it (REDIS_CLUSTER_NODES, PLATFORM_TEST_CLUSTER_NODES).
 */
function clusterProject(files) {
  return {
    ...base,
    displayName: 'cluster',
    testMatch: files.map((file) => `<rootDir>/${file}`),
    testPathIgnorePatterns: ['/node_modules/', ...STANDALONE_ONLY_FILES.map((file) => `<rootDir>/${file}`)],
    setupFiles: ['<rootDir>/jest/cluster-env.ts'],
    globalSetup: '<rootDir>/jest/cluster-global-setup.ts',
    globalTeardown: '<rootDir>/jest/cluster-global-teardown.ts',
  };
}

/** Every test file of the cluster suites (the full cluster run). */
const CLUSTER_FULL = CLUSTER_SUITES.map((suite) => `packages/${suite}/src/**/*.test.ts`);

/**
 * The reduced cluster run of `npm test`: one representative file per suite, about a minute or
 * two on 2 cores.
 */
const CLUSTER_REDUCED = [
  'packages/queue/src/queue.test.ts',
  'packages/queue/src/fairness/fairness.test.ts',
  'packages/ratelimit/src/rate-limiter.test.ts',
  'packages/locks/src/lock.test.ts',
  'packages/notifications/src/notify.test.ts',
  'packages/sessions/src/store.test.ts',
];

/** Options jest reads only at the top level of a multi-project config. */
const global = {
  // No watchman on CI machines; jest would otherwise wait for it.
  watchman: false,
  rootDir,
  // Two cores: two workers keep Redis and the test processes from starving each other.
  maxWorkers: process.env.CI ? 2 : '50%',
  // A top-level option: jest does not take it from a project.
  testTimeout: 60_000,
};

module.exports = { standalone, clusterProject, CLUSTER_FULL, CLUSTER_REDUCED, STANDALONE_ONLY_FILES, global };
