--[[
  slidingWindowDecide(key, limit, window, cost) -> allowed (1|0), remaining, retryAfterMs, resetMs
  The sliding window counter's decision (needs the "slidingWindowCounter" include before it):
  used = prev * (window - elapsed) / window + cur; counts `cost` in the current bucket if it fits.
  Refused calls are not counted. resetMs: until the estimate is 0.
]]
local function slidingWindowDecide(key, limit, window, cost)
  local prev, cur, ttl = slidingWindowState(key, window)
  local elapsed = 2 * window - ttl
  local used = prev * (window - elapsed) / window + cur
  if used + cost <= limit then
    cur = cur + cost
    redis.call('SET', key, string.format('%.0f', prev * SLIDING_WINDOW_M + cur), 'PX', ttl)
    return 1, math.floor(limit - used - cost), 0, ttl
  end
  local resetMs = ttl
  if cur == 0 then resetMs = ttl - window end
  return 0, math.floor(limit - used), slidingWindowRetry(limit, cost, window, elapsed, prev, cur), resetMs
end
