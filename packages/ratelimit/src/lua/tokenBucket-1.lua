--[[
  Token bucket as GCRA: the key holds the theoretical arrival time (TAT, µs): the Redis time at
  which the bucket is full again. A bucket holds `burst` tokens and gains one per `interval`.
  Taking `cost` tokens moves TAT by cost * interval; allowed when the new TAT is at most
  burst * interval ahead of now. Refused calls take nothing.

  KEYS[1] TAT (string)
  ARGV[1] interval between tokens, µs (may be fractional)
  ARGV[2] burst (bucket capacity)
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}; resetMs: until the bucket is full.
]]
--- @include "nowUs"
local interval = tonumber(ARGV[1])
local capacity = interval * tonumber(ARGV[2])
local now = nowUs()
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < now then tat = now end
local newTat = tat + interval * tonumber(ARGV[3])
local allowAt = newTat - capacity
if allowAt > now then
  return {0, math.floor((capacity - (tat - now)) / interval), math.ceil((allowAt - now) / 1000), math.ceil((tat - now) / 1000)}
end
local resetMs = math.max(1, math.ceil((newTat - now) / 1000))
redis.call('SET', KEYS[1], string.format('%.3f', newTat), 'PX', resetMs)
return {1, math.floor((now - allowAt) / interval), 0, resetMs}
