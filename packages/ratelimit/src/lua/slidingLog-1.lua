--[[
  Sliding log: one member per counted unit, scored by its Redis time in µs. A call is
  allowed when the units counted in (now - window, now] plus `cost` fit in `limit`, so no
  window-length interval ever holds more than `limit` units. Refused calls are not counted.

  KEYS[1] log (sorted set)
  ARGV[1] limit
  ARGV[2] window length, ms
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}; resetMs: until the log is empty.
]]
--- @include "nowUs"
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2]) * 1000
local cost = tonumber(ARGV[3])
local now = nowUs()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local used = redis.call('ZCARD', KEYS[1])
if used + cost <= limit then
  -- Unique members: within one µs the count only grows, so (time, count) never repeats.
  local stamp = string.format('%.0f', now) .. '-'
  for i = 1, cost do
    redis.call('ZADD', KEYS[1], now, stamp .. (used + i))
  end
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, limit - used - cost, 0, tonumber(ARGV[2])}
end
-- Enough room appears when the (used + cost - limit)-th oldest unit leaves the window.
local index = used + cost - limit - 1
local oldest = redis.call('ZRANGE', KEYS[1], index, index, 'WITHSCORES')
local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
return {0, limit - used, math.ceil((oldest[2] + window - now) / 1000), math.ceil((newest[2] + window - now) / 1000)}
