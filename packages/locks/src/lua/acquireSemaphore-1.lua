--[[
  Takes a slot of a counting semaphore: leases live in a sorted set scored by their expiry time
  (ms, from the Redis clock); expired leases are dropped first, so a dead holder's slot frees.

  KEYS[1]  lease set
  ARGV[1]  lease id (random, unique per acquisition)
  ARGV[2]  limit: the number of slots
  ARGV[3]  lease TTL in ms

  Returns
    1      acquired
    <= -1  all slots taken: -1 - (ms until the earliest lease expires)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[3])), ARGV[1])
  -- The set lives as long as its longest lease.
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', KEYS[1], math.max(tonumber(last[2]) - now, 1))
  return 1
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return -1 - math.max(tonumber(first[2]) - now, 0)
