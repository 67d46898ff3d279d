--[[
  Token bucket (GCRA), read only: would `cost` tokens be available now? Compared with the half µs
  of slack of tokenBucketDecide (the clock's resolution; see there).

  KEYS[1] TAT (string)
  ARGV[1] interval between tokens, µs
  ARGV[2] burst (bucket capacity)
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}.
]]
--- @include "nowUs"
local interval = tonumber(ARGV[1])
local capacity = interval * tonumber(ARGV[2])
local now = nowUs()
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local slack = 0.5
local early = (tat - now) + interval * tonumber(ARGV[3]) - capacity
local remaining = math.floor((capacity - (tat - now) + slack) / interval)
local resetMs = math.ceil((tat - now) / 1000)
if early > slack then return {0, remaining, math.ceil(early / 1000), resetMs} end
return {1, remaining, 0, resetMs}
