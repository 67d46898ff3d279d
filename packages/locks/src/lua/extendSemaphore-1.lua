--[[
  Moves a semaphore lease's expiry to now + TTL if the lease is still held.

  KEYS[1]  lease set
  ARGV[1]  lease id
  ARGV[2]  new TTL in ms, counted from now

  Returns
    1  extended
    0  the lease was not held any more (expired or never existed); an expired one is removed
]]
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(score) <= now then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(last[2]) - now, 1))
return 1
