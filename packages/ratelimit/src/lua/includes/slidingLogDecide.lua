--[[
  slidingLogDecide(key, limit, window, cost) -> allowed (1|0), remaining, retryAfterMs, resetMs
  The exact log's decision (needs the "nowUs" include before it): one member per counted unit,
  scored by its Redis time in µs; allowed when the units in (now - window, now] plus `cost` fit
  in `limit`. Refused calls are not counted. `window` in ms; resetMs: until the log is empty.
]]
local function slidingLogDecide(key, limit, window, cost)
  local span = window * 1000
  local now = nowUs()
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local used = redis.call('ZCARD', key)
  if used + cost <= limit then
    -- Unique members: within one µs the count only grows, so (time, count) never repeats.
    local stamp = string.format('%.0f', now) .. '-'
    for i = 1, cost do
      redis.call('ZADD', key, now, stamp .. (used + i))
    end
    redis.call('PEXPIRE', key, window)
    return 1, limit - used - cost, 0, window
  end
  -- Enough room appears when the (used + cost - limit)-th oldest unit leaves the window.
  local index = used + cost - limit - 1
  local oldest = redis.call('ZRANGE', key, index, index, 'WITHSCORES')
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  return 0, limit - used, math.ceil((oldest[2] + span - now) / 1000), math.ceil((newest[2] + span - now) / 1000)
end
