--[[
  Sliding window counter, read only: would `cost` fit now? See slidingWindow for the state.

  KEYS[1] counter (string: prev * 2^26 + cur)
  ARGV[1] limit (< 2^26)
  ARGV[2] window (bucket) length, ms
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}.
]]
--- @include "slidingWindowCounter"
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local prev, cur, ttl, found = slidingWindowState(KEYS[1], window)
if found == 0 then return {1, limit, 0, 0} end
local elapsed = 2 * window - ttl
local used = prev * (window - elapsed) / window + cur
local resetMs = ttl
if cur == 0 then resetMs = ttl - window end
if used == 0 then resetMs = 0 end
if used + cost <= limit then return {1, math.floor(limit - used), 0, resetMs} end
return {0, math.floor(limit - used), slidingWindowRetry(limit, cost, window, elapsed, prev, cur), resetMs}
