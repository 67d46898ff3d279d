--[[
  Sliding log, read only: would `cost` fit now?

  KEYS[1] log (sorted set)
  ARGV[1] limit
  ARGV[2] window length, ms
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}.
]]
--- @include "nowUs"
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2]) * 1000
local cost = tonumber(ARGV[3])
local now = nowUs()
local from = '(' .. string.format('%.0f', now - window)
local used = redis.call('ZCOUNT', KEYS[1], from, '+inf')
if used == 0 then return {1, limit, 0, 0} end
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local resetMs = math.ceil((newest[2] + window - now) / 1000)
if used + cost <= limit then return {1, limit - used, 0, resetMs} end
local oldest = redis.call('ZRANGEBYSCORE', KEYS[1], from, '+inf', 'WITHSCORES', 'LIMIT', used + cost - limit - 1, 1)
return {0, limit - used, math.ceil((oldest[2] + window - now) / 1000), resetMs}
