--[[
  Concurrency limiter: drops expired leases, then adds one if fewer than `max` are in flight.
  The set's TTL always covers its longest lease.

  KEYS[1] leases (sorted set: lease id scored by expiry, Redis time in ms)
  ARGV[1] max in flight
  ARGV[2] lease length, ms
  ARGV[3] lease id
  Returns {acquired (1|0), inFlight, retryAfterMs (until the oldest lease expires), expiresInMs}.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local count = redis.call('ZCARD', KEYS[1])
if count < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', KEYS[1], tonumber(last[2]) - now)
  return {1, count + 1, 0, tonumber(ARGV[2])}
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, count, tonumber(first[2]) - now, 0}
