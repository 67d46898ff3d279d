--[[
  fixedWindowDecide(key, limit, window, cost) -> allowed (1|0), remaining, retryAfterMs, resetMs
  Counts `cost` against the window's counter if it fits. The window opens with the first counted
  call and lasts `window` ms (the counter's TTL, set here too). A refused call is not counted (its
  increment is taken back at once). resetMs: until the window closes.
]]
local function fixedWindowDecide(key, limit, window, cost)
  local used = redis.call('INCRBY', key, cost)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    -- A new counter, or one left without TTL by other code: the window starts now.
    ttl = window
    redis.call('PEXPIRE', key, ttl)
  end
  if used > limit then
    used = redis.call('DECRBY', key, cost)
    return 0, limit - used, ttl, ttl
  end
  return 1, limit - used, 0, ttl
end
