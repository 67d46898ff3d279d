/**
 * One jest run over every package. Tests import packages from their sources (`src/`), so a test
 * run checks the code being edited; the build (run before `npm test`) checks the published `dist/`.
 *
 * Two projects: `standalone` runs every test against one standalone Redis; `cluster` runs one
 * representative file of each cluster suite (queue, fairness, limiter, locks, notifyOnce,
 * sessions) against a local Redis Cluster of 3 masters and 3 replicas. The full cluster run is
 * jest.cluster.config.js (`npm run test:faults`). See jest/projects.js.
 * @type {import('jest').Config}
 */
const { standalone, clusterProject, CLUSTER_REDUCED, global } = require('./jest/projects');

module.exports = {
  ...global,
  projects: [standalone, clusterProject(CLUSTER_REDUCED)],
};
