import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

interface Service {
  image?: string;
  command?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  environment?: Record<string, string>;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(readFileSync(join(__dirname, '..', 'docker-compose.yml'), 'utf8')) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};

function flag(command: string[], name: string): string | undefined {
  const index = command.indexOf(name);
  return index === -1 ? undefined : command[index + 1];
}

describe('docker-compose.yml', () => {
  const redis = compose.services.redis!;
  const command = redis.command ?? [];

  it('runs Redis 7.2', () => {
    expect(redis.image).toMatch(/^redis:7\.2/);
    expect(command[0]).toBe('redis-server');
  });

  it('turns AOF on, never evicts, and keeps connections alive', () => {
    expect(flag(command, '--appendonly')).toBe('yes');
    expect(flag(command, '--maxmemory-policy')).toBe('noeviction');
    expect(flag(command, '--tcp-keepalive')).toBe('300');
  });

  it('keeps data on a named volume', () => {
    const [volume, path] = (redis.volumes ?? [])[0]!.split(':');
    expect(path).toBe('/data');
    expect(compose.volumes).toHaveProperty(volume!);
  });

  it('has a redis-cli ping healthcheck', () => {
    expect(redis.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  it.each(['agent-service', 'notification-service'])('builds %s from the repo and points it at Redis', (name) => {
    const service = compose.services[name]!;
    expect(service.build?.context).toBe('.');
    expect(service.build?.args?.EXAMPLE).toBe(name);
    expect(service.environment?.REDIS_URL).toBe('redis://redis:6379');
    expect(service.depends_on?.redis?.condition).toBe('service_healthy');
  });
});
