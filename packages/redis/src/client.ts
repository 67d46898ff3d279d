/** An argument of a Redis command, as ioredis takes it. */
export type RedisArgument = string | number | Buffer;

/**
 * What running a Lua script needs of a client: `EVALSHA` and `EVAL`. A structural type, not
 * ioredis's `Redis` class: a `Redis` or `Cluster` of any ioredis version the peer range allows
 * satisfies it (a class with private members only accepts instances of its own copy), and so does
 * any compatible object.
 */
export interface ScriptClient {
  evalsha(sha1: string, numkeys: number, ...args: RedisArgument[]): Promise<unknown>;
  eval(script: string, numkeys: number, ...args: RedisArgument[]): Promise<unknown>;
}
