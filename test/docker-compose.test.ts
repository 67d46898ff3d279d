import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

interface Service {
  image?: string;
  command?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  deploy?: { resources?: { limits?: { memory?: string; cpus?: string } } };
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

  it('turns AOF and RDB on, never evicts, caps memory, requires a password and keeps connections alive', () => {
    expect(flag(command, '--appendonly')).toBe('yes');
    expect(flag(command, '--save')).toMatch(/^\d+ \d+/);
    expect(flag(command, '--maxmemory-policy')).toBe('noeviction');
    expect(flag(command, '--maxmemory')).toBe('${REDIS_MAXMEMORY:-512mb}');
    expect(flag(command, '--requirepass')).toMatch(/^\$\{REDIS_PASSWORD:\?/);
    expect(flag(command, '--tcp-keepalive')).toBe('300');
  });

  it("limits the container's memory and CPU", () => {
    const limits = redis.deploy?.resources?.limits;
    expect(limits?.memory).toBeDefined();
    expect(limits?.cpus).toBeDefined();
  });

  it('keeps data on a named volume', () => {
    const [volume, path] = (redis.volumes ?? [])[0]!.split(':');
    expect(path).toBe('/data');
    expect(compose.volumes).toHaveProperty(volume!);
  });

  it('has a healthcheck that authenticates (password from the environment, not the command line) and only PINGs', () => {
    expect(redis.healthcheck?.test).toEqual(['CMD-SHELL', 'REDISCLI_AUTH="$$REDIS_PASSWORD" redis-cli ping | grep -q PONG']);
  });

  it.each(['agent-service', 'notification-service'])('builds %s from the repo and points it at Redis', (name) => {
    const service = compose.services[name]!;
    expect(service.build?.context).toBe('.');
    expect(service.build?.args?.EXAMPLE).toBe(name);
    expect(service.environment?.REDIS_URL).toBe('redis://redis:6379');
    expect(service.environment?.REDIS_PASSWORD).toMatch(/^\$\{REDIS_PASSWORD:\?/);
    expect(service.depends_on?.redis?.condition).toBe('service_healthy');
  });
});
