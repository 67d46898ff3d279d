--[[
  Gives a semaphore slot back, and tells waiters on the release channel.

  KEYS[1]  lease set
  ARGV[1]  lease id
  ARGV[2]  release channel

  Returns
    1  released
    0  the lease was not held any more (expired or never existed)
]]
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(score) <= now then return 0 end
redis.call('PUBLISH', ARGV[2], '1')
return 1
