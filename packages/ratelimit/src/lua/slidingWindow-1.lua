--[[
  Sliding window counter: two fixed buckets of `window` ms, the previous one weighted by the part
  of it still inside the sliding window: used = prev * (window - elapsed) / window + cur. O(1)
  state: one integer per key, prev * 2^26 + cur. The current bucket opens with the first counted
  call (as a fixed window's does) and the key expires at the end of the bucket after it, so its
  PTTL tells where in the bucket "now" is: elapsed = 2 * window - PTTL (no TIME call needed).
  Refused calls are not counted.

  KEYS[1] counter (string: prev * 2^26 + cur)
  ARGV[1] limit (< 2^26)
  ARGV[2] window (bucket) length, ms
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}; resetMs: until the estimate is 0.
]]
--- @include "slidingWindowCounter"
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local prev, cur, ttl = slidingWindowState(KEYS[1], window)
local elapsed = 2 * window - ttl
local used = prev * (window - elapsed) / window + cur
if used + cost <= limit then
  cur = cur + cost
  redis.call('SET', KEYS[1], string.format('%.0f', prev * SLIDING_WINDOW_M + cur), 'PX', ttl)
  return {1, math.floor(limit - used - cost), 0, ttl}
end
local resetMs = ttl
if cur == 0 then resetMs = ttl - window end
return {0, math.floor(limit - used), slidingWindowRetry(limit, cost, window, elapsed, prev, cur), resetMs}
