--[[
  Fixed window: counts `cost` against the window's counter if it fits. The window opens with the
  first counted call and lasts `windowMs` (the counter's TTL, set in this same script).
  Refused calls are not counted (their increment is taken back in the same script).

  KEYS[1] counter (string)
  ARGV[1] limit
  ARGV[2] window length, ms
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}; resetMs: until the window closes.
]]
local used = redis.call('INCRBY', KEYS[1], ARGV[3])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  -- A new counter, or one left without TTL by other code: the window starts now.
  ttl = tonumber(ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
local limit = tonumber(ARGV[1])
if used > limit then
  used = redis.call('DECRBY', KEYS[1], ARGV[3])
  return {0, limit - used, ttl, ttl}
end
return {1, limit - used, 0, ttl}
