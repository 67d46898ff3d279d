import { createServer } from 'node:net';
import { CLUSTER_BUS_PORT_OFFSET, findFreeClusterPort, isPortFree, startRedisServer } from './redis-server';

describe('findFreeClusterPort', () => {
  it('gives ports whose cluster bus port exists and is free too (a node above 55535 cannot start)', async () => {
    // The OS's free ports reach 60999 on Linux: among 40 of them some would be above 55535.
    const ports = await Promise.all(Array.from({ length: 40 }, () => findFreeClusterPort()));
    for (const port of ports) expect(port + CLUSTER_BUS_PORT_OFFSET).toBeLessThanOrEqual(65_535);
    for (const port of ports.slice(0, 5)) {
      expect(await isPortFree(port)).toBe(true);
      expect(await isPortFree(port + CLUSTER_BUS_PORT_OFFSET)).toBe(true);
    }
  });

  it('skips a port whose bus port is taken, and a port that is taken', async () => {
    // The same first random pick twice: once with both ports free, then with one of them taken.
    const pickWith = async (first: number) => {
      const random = jest.spyOn(Math, 'random').mockReturnValueOnce(first);
      try {
        return await findFreeClusterPort();
      } finally {
        random.mockRestore();
      }
    };
    for (const [first, offset] of [[0.25, CLUSTER_BUS_PORT_OFFSET], [0.75, 0]] as const) {
      const port = await pickWith(first);
      const blocker = createServer();
      await new Promise<void>((resolve) => blocker.listen(port + offset, '127.0.0.1', resolve));
      try {
        expect(await pickWith(first)).not.toBe(port);
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    }
  });
});

describe('startRedisServer', () => {
  it("rejects with redis-server's own reason when the server exits at start (it logs to stdout)", async () => {
    // A cluster node on 60000 or above would need a bus port above 65535: redis-server refuses to
    // start. The port must be free, or the refusal is the bind's instead (seen in CI).
    let port = 60_000;
    while (!(await isPortFree(port))) port++;
    await expect(startRedisServer({ port, args: ['--cluster-enabled', 'yes'] })).rejects.toThrow(
      new RegExp(`port ${port} exited with 1: .*(port number too high|55535)`, 's'),
    );
  });
});
