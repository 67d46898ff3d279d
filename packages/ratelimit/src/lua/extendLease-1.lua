--[[
  Concurrency limiter: extends a live lease to now + `ms`; an expired or released lease stays gone.

  KEYS[1] leases (sorted set: lease id scored by expiry, Redis time in ms)
  ARGV[1] lease id
  ARGV[2] new lease length from now, ms
  Returns 1 when extended, 0 when the lease is no longer held.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if expiry == nil or expiry <= now then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIRE', KEYS[1], tonumber(last[2]) - now)
return 1
