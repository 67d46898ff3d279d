--[[
  Registers a live worker of a fair queue with its concurrency (the release window follows the
  total), or removes it.

  KEYS[1]  workers  zset  workerId -> heartbeat expiry ms
  KEYS[2]  wconc    hash  workerId -> concurrency

  ARGV[1]  workerId
  ARGV[2]  concurrency (0 = remove the worker)
  ARGV[3]  ms the heartbeat lives

  Returns { the live workers' total concurrency, the Redis clock in ms } (the worker learns how far
  its own clock is from Redis's).
]]
--- @include "nowMs"
local rcall = redis.call
local now = nowMs()
local ttl = tonumber(ARGV[3])
if tonumber(ARGV[2]) > 0 then
  rcall('ZADD', KEYS[1], now + ttl, ARGV[1])
  rcall('HSET', KEYS[2], ARGV[1], ARGV[2])
else
  rcall('ZREM', KEYS[1], ARGV[1])
  rcall('HDEL', KEYS[2], ARGV[1])
end
local gone = rcall('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #gone > 0 then
  rcall('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  rcall('HDEL', KEYS[2], unpack(gone))
end
-- The registry lives while a worker heartbeats.
rcall('PEXPIRE', KEYS[1], ttl * 2)
rcall('PEXPIRE', KEYS[2], ttl * 2)
local total = 0
for _, c in ipairs(rcall('HVALS', KEYS[2])) do total = total + (tonumber(c) or 0) end
return { total, now }
