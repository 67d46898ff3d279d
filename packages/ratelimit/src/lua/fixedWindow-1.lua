--[[
  Fixed window: counts `cost` against the window's counter if it fits. The window opens with the
  first counted call and lasts `windowMs` (the counter's TTL, set in this same script).
  Refused calls are not counted.

  KEYS[1] counter (string)
  ARGV[1] limit
  ARGV[2] window length, ms
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}; resetMs: until the window closes.
]]
local limit = tonumber(ARGV[1])
local cost = tonumber(ARGV[3])
local used = tonumber(redis.call('GET', KEYS[1]) or 0)
local ttl = redis.call('PTTL', KEYS[1])
if used + cost > limit then
  if ttl < 0 then
    -- A counter without TTL (written by other code): give it one rather than block forever.
    ttl = tonumber(ARGV[2])
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
  return {0, limit - used, ttl, ttl}
end
used = redis.call('INCRBY', KEYS[1], cost)
if ttl < 0 then
  ttl = tonumber(ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {1, limit - used, 0, ttl}
