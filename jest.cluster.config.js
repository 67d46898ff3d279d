/**
 * The full cluster run (`npm run test:faults`): every test file of the queue (with fairness),
 * ratelimit, locks, notifications and sessions packages against a local Redis Cluster of 3
 * masters and 3 replicas, except the standalone-only files listed (with the reason) in
 * jest/projects.js. `npm test` runs a reduced set of these (jest.config.js).
 * @type {import('jest').Config}
 */
const { clusterProject, CLUSTER_FULL, global } = require('./jest/projects');

module.exports = {
  ...global,
  projects: [clusterProject(CLUSTER_FULL)],
};
