import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { loadRedisConfig, redactUrlPassword } from './config';
import { ConfigError } from './errors';

function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadRedisConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadRedisConfig', () => {
  it('defaults to 127.0.0.1:6379, db 0', () => {
    const config = loadRedisConfig({});
    expect(config).toMatchObject({ host: '127.0.0.1', port: 6379, db: 0 });
    expect(config.password).toBeUndefined();
  });

  it('reads host, port, db, user and password from REDIS_URL', () => {
    const config = loadRedisConfig({ REDIS_URL: 'redis://app:s3cret@redis.internal:6380/4' });
    expect(config).toMatchObject({ host: 'redis.internal', port: 6380, db: 4, username: 'app' });
    expect(config.password).toBe('s3cret');
  });

  it('lets REDIS_PASSWORD and REDIS_DB override the URL, and treats empty values as unset', () => {
    const config = loadRedisConfig({ REDIS_URL: 'redis://:a@h:1/2', REDIS_PASSWORD: 'b', REDIS_DB: '7' });
    expect(config.password).toBe('b');
    expect(config.db).toBe(7);
    expect(loadRedisConfig({ REDIS_PASSWORD: '', REDIS_DB: '' }).password).toBeUndefined();
  });

  it('parses Sentinel hosts and requires a master name', () => {
    const config = loadRedisConfig({ REDIS_SENTINEL_HOSTS: 's1:26379, s2:26380', REDIS_SENTINEL_NAME: 'mymaster' });
    expect(config.sentinels).toEqual([
      { host: 's1', port: 26379 },
      { host: 's2', port: 26380 },
    ]);
    expect(config.sentinelName).toBe('mymaster');
    expect(configError({ REDIS_SENTINEL_HOSTS: 's1:26379' }).variable).toBe('REDIS_SENTINEL_NAME');
  });

  it('reads Redis Cluster seed nodes from REDIS_CLUSTER_NODES, with credentials and TLS from REDIS_URL', () => {
    const config = loadRedisConfig({ REDIS_CLUSTER_NODES: 'n1:7000, n2:7001', REDIS_URL: 'rediss://app@ignored:1', REDIS_PASSWORD: 'pw' });
    expect(config.clusterNodes).toEqual([
      { host: 'n1', port: 7000 },
      { host: 'n2', port: 7001 },
    ]);
    expect(config).toMatchObject({ username: 'app', db: 0, tls: { servername: 'ignored' } });
    expect(config.password).toBe('pw');
    expect(loadRedisConfig({}).clusterNodes).toBeUndefined();
  });

  it.each([
    [{ REDIS_CLUSTER_NODES: 'n1' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'n1:7000', REDIS_SENTINEL_HOSTS: 's1:26379', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_CLUSTER_NODES'],
    [{ REDIS_CLUSTER_NODES: 'n1:7000', REDIS_DB: '3' }, 'REDIS_DB'],
    [{ REDIS_URL: 'http://localhost:6379' }, 'REDIS_URL'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ REDIS_URL: 'redis://localhost:99999' }, 'REDIS_URL'],
    [{ REDIS_URL: 'redis://localhost:6379/16' }, 'REDIS_URL'],
    [{ REDIS_URL: 'redis://:p%ZZw@localhost:6379' }, 'REDIS_URL'],
    [{ REDIS_URL: 'redis://u%E0:pw@localhost:6379' }, 'REDIS_URL'],
    [{ REDIS_DB: '16' }, 'REDIS_DB'],
    [{ REDIS_DB: '-1' }, 'REDIS_DB'],
    [{ REDIS_DB: 'one' }, 'REDIS_DB'],
    [{ REDIS_SENTINEL_HOSTS: 's1', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINEL_HOSTS'],
    [{ REDIS_SENTINEL_HOSTS: 's1:0', REDIS_SENTINEL_NAME: 'm' }, 'REDIS_SENTINEL_HOSTS'],
    [{ REDIS_SENTINEL_HOSTS: 's1:26379', REDIS_SENTINEL_NAME: 'bad name' }, 'REDIS_SENTINEL_NAME'],
    [{ REDIS_URL: 'rediss://h:6379', REDIS_TLS_CA_FILE: '/nonexistent/ca.pem' }, 'REDIS_TLS_CA_FILE'],
  ])('%j throws ConfigError naming %s', (env, variable) => {
    const error = configError(env as Record<string, string>);
    expect(error.variable).toBe(variable);
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain(variable);
  });

  it('refuses a CA file that is not PEM, or a CA file without rediss://', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const notPem = join(dir, 'ca.txt');
    writeFileSync(notPem, 'hello');
    expect(configError({ REDIS_URL: 'rediss://h:6379', REDIS_TLS_CA_FILE: notPem }).variable).toBe('REDIS_TLS_CA_FILE');
    const pem = join(dir, 'ca.pem');
    writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(configError({ REDIS_URL: 'redis://h:6379', REDIS_TLS_CA_FILE: pem }).variable).toBe('REDIS_TLS_CA_FILE');
    expect(loadRedisConfig({ REDIS_URL: 'rediss://h:6379', REDIS_TLS_CA_FILE: pem }).tls).toEqual({ servername: 'h', caFile: pem });
  });

  it('refuses a user or password with a malformed percent-escape with a ConfigError, not a URIError', () => {
    for (const url of ['redis://:%ZZsecret@h:6379', 'redis://%E0%A4@h:6379', 'redis://app:50%@h:6379']) {
      const error = configError({ REDIS_URL: url });
      expect(error.variable).toBe('REDIS_URL');
      expect(error.message).not.toContain('secret');
    }
  });

  it('keeps a password out of displayUrl when it sits in the query string or was cut off by an unescaped "#" or "?"', () => {
    const secret = 'hunter2-XYZ';
    for (const url of [
      `redis://h:6379/0?password=${secret}`,
      `rediss://app@h:6379?token=${secret}&tls=1`,
      `redis://user:12#${secret}@host:6379`,
      `redis://user:12?${secret}@host:6379`,
    ]) {
      expect(loadRedisConfig({ REDIS_URL: url }).displayUrl).not.toContain(secret);
    }
    expect(loadRedisConfig({ REDIS_URL: 'rediss://app:pw@h:6379/2?tls=1' }).displayUrl).toBe('rediss://app:***@h:6379/2?tls=1');
  });

  it('does not quote a password written into a REDIS_SENTINEL_HOSTS or REDIS_CLUSTER_NODES entry', () => {
    const secret = 'hunter2-XYZ';
    for (const env of [
      { REDIS_SENTINEL_HOSTS: `redis://:${secret}@s1:26379`, REDIS_SENTINEL_NAME: 'm' },
      { REDIS_SENTINEL_HOSTS: `s0:26379, app:${secret}@s1:26379`, REDIS_SENTINEL_NAME: 'm' },
      { REDIS_CLUSTER_NODES: `rediss://app:${secret}@n1:7000` },
      { REDIS_CLUSTER_NODES: `app:${secret}@n1:7000` },
    ]) {
      const error = configError(env);
      expect(error.variable).toBe(Object.keys(env)[0]);
      expect(error.message).not.toContain(secret);
    }
    // Without credentials the entry is still quoted, to say which one is wrong.
    expect(configError({ REDIS_CLUSTER_NODES: 'n1:7000, n2' }).message).toContain('"n2"');
  });

  it('redactUrlPassword hides passwords of URLs without a host part, and in query parameters', () => {
    const secret = 'hunter2-XYZ';
    for (const url of [
      `postgres:user:${secret}@db.internal/app`,
      `postgres:/user:${secret}@db.internal/app`,
      `postgresql://db.internal/app?sslmode=require&password=${secret}`,
      `user:${secret}@db.internal`,
      `redis//:${secret}@host`,
    ]) {
      expect(redactUrlPassword(url)).not.toContain(secret);
    }
    expect(redactUrlPassword('postgresql://app:pw@db.internal:5432/app?sslmode=require')).toBe('postgresql://app:***@db.internal:5432/app?sslmode=require');
  });

  it('never puts a password in an error message, a log line or JSON', () => {
    const secret = 'pa55-w0rd-XYZ';
    const bad: Record<string, string>[] = [
      { REDIS_URL: `redis://user:${secret}@host:notaport` },
      { REDIS_URL: `redis://:${secret}@host:6379/99` },
      { REDIS_URL: `http://:${secret}@host:6379` },
      { REDIS_URL: `redis//:${secret}@host` },
      { REDIS_PASSWORD: secret, REDIS_DB: 'x' },
    ];
    for (const env of bad) {
      const error = configError(env);
      expect(error.message).not.toContain(secret);
      expect(String(error.stack)).not.toContain(secret);
    }
    const config = loadRedisConfig({ REDIS_URL: `redis://user:${secret}@host:6379` });
    expect(JSON.stringify(config)).not.toContain(secret);
    expect(inspect(config)).not.toContain(secret);
    expect(config.displayUrl).toBe('redis://user:***@host:6379');
    expect(config.password).toBe(secret);
  });
});
