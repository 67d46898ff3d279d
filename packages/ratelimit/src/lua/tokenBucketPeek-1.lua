--[[
  Token bucket (GCRA), read only: would `cost` tokens be available now? The same state and
  comparisons as tokenBucketDecide (see there).

  KEYS[1] TAT (string)
  ARGV[1] interval between tokens, µs
  ARGV[2] burst (bucket capacity)
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}.
]]
--- @include "nowUs"
--- @include "tokenBucketDecide"
local interval = tonumber(ARGV[1])
local capacity = interval * tonumber(ARGV[2])
local debt = tokenBucketDebt(KEYS[1], nowUs())
local early = debt + interval * tonumber(ARGV[3]) - capacity
local remaining = math.floor((capacity - debt + TOKEN_BUCKET_SLACK_US) / interval)
local resetMs = math.ceil(debt / 1000)
if early > TOKEN_BUCKET_SLACK_US then return {0, remaining, math.ceil(early / 1000), resetMs} end
return {1, remaining, 0, resetMs}
