--[[
  Sliding window counter, read only: would `cost` fit now? See slidingWindow for the state.

  KEYS[1] counter (string: prev * 2^26 + cur)
  ARGV[1] limit (< 2^26)
  ARGV[2] window (bucket) length, ms
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}.
]]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local M = 67108864
local value = tonumber(redis.call('GET', KEYS[1]))
if not value then return {1, limit, 0, 0} end
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return {1, limit, 0, 0} end
local prev = math.floor(value / M)
local cur = value % M
if ttl <= window then prev, cur, ttl = cur, 0, ttl + window end
local elapsed = 2 * window - ttl
local used = prev * (window - elapsed) / window + cur
local resetMs = ttl
if cur == 0 then resetMs = ttl - window end
if used == 0 then resetMs = 0 end
if used + cost <= limit then return {1, math.floor(limit - used), 0, resetMs} end
local retry
if cur + cost <= limit then
  retry = (window - elapsed) - (limit - cur - cost) * window / prev
else
  retry = (2 * window - elapsed) - (limit - cost) * window / cur
end
return {0, math.floor(limit - used), math.max(1, math.ceil(retry)), resetMs}
