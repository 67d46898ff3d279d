import { runMain } from './test-support';

const TOKEN = 'cli-port-token-0123456789abcdef';

describe('--port of platform metrics and platform dashboard', () => {
  it.each([['metrics'], ['dashboard']])('%s refuses a port above 65535 as a bad argument (exit 2, names --port)', async (command) => {
    const env = { REDIS_URL: process.env.REDIS_URL!, PLATFORM_DASHBOARD_TOKEN: TOKEN };
    for (const port of ['65536', '70000']) {
      const run = await runMain([command, '--port', port], env);
      expect([port, run.code]).toEqual([port, 2]);
      expect(run.stderr).toMatch(/^platform: InvalidArgumentError: --port: /);
    }
  });
});
