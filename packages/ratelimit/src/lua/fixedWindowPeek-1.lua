--[[
  Fixed window, read only: would `cost` fit now?

  KEYS[1] counter (string)
  ARGV[1] limit
  ARGV[2] window length, ms
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}.
]]
local limit = tonumber(ARGV[1])
local used = tonumber(redis.call('GET', KEYS[1]) or 0)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then ttl = 0 end
if used + tonumber(ARGV[3]) > limit then
  return {0, limit - used, ttl, ttl}
end
return {1, limit - used, 0, ttl}
