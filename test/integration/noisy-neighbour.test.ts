import { runNoisyNeighbour } from '../../bench/src/noisy-neighbour';

// The benchmark in quick mode: fairness must actually shorten the small tenants' wait behind a
// big backlog. Throughput is a benchmark figure (bench/RESULTS.md), not asserted here.
describe('noisy neighbour (quick)', () => {
  it("cuts the small tenants' p95 wait well below FIFO's", async () => {
    const result = await runNoisyNeighbour({ redisUrl: process.env.REDIS_URL!, quick: true });
    expect(result.fifoP95WaitMs).toBeGreaterThan(0);
    expect(result.ratioP95).toBeLessThan(0.5);
  }, 120_000);
});
