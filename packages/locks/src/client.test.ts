import { Cluster, Redis } from 'ioredis';
import { duplicateForPubSub } from './waiters';

// The Pub/Sub connection locks open to hear releases: Redis and Cluster take different arguments
// to duplicate(). Lazy clients: nothing connects, the options are what is checked.
describe('the release subscriber connection', () => {
  it('duplicates a Cluster with its startup nodes and node options, named in redisOptions', () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 7001 }], { lazyConnect: true, redisOptions: { password: 'pw-1', db: 0 } });
    const duplicate = duplicateForPubSub(cluster, 'platform:locks-subscriber') as Cluster;
    try {
      expect(duplicate).toBeInstanceOf(Cluster);
      expect(duplicate.options.redisOptions).toMatchObject({ password: 'pw-1', connectionName: 'platform:locks-subscriber' });
      expect((duplicate as unknown as { startupNodes: unknown }).startupNodes).toEqual([{ host: '127.0.0.1', port: 7001 }]);
    } finally {
      duplicate.disconnect();
      cluster.disconnect();
    }
  });

  it('duplicates a Redis client with its options, named', () => {
    const redis = new Redis({ host: '127.0.0.1', port: 7002, lazyConnect: true, password: 'pw-2' });
    const duplicate = duplicateForPubSub(redis, 'platform:locks-subscriber') as Redis;
    try {
      expect(duplicate).toBeInstanceOf(Redis);
      expect(duplicate.options).toMatchObject({ port: 7002, password: 'pw-2', connectionName: 'platform:locks-subscriber' });
    } finally {
      duplicate.disconnect();
      redis.disconnect();
    }
  });
});
