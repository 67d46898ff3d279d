--[[
  tokenBucketDecide(key, interval, burst, cost) -> allowed (1|0), remaining, retryAfterMs, resetMs
  GCRA (needs the "nowUs" include before it): the key holds the theoretical arrival time (TAT,
  µs), the Redis time at which the bucket is full again; a bucket holds `burst` tokens and gains
  one per `interval` µs. Taking `cost` tokens moves TAT by cost * interval; allowed when the new
  TAT is at most burst * interval ahead of now. Refused calls take nothing. resetMs: until full.
  Times are compared at the Redis clock's resolution: a TAT near 1.8e15 µs is a double kept to
  0.25 µs, so adding a fractional interval rounds it, and without half a µs of slack that rounding
  alone would count a token fewer than is left (or refuse a call that is due now).
]]
local TOKEN_BUCKET_SLACK_US = 0.5

local function tokenBucketDecide(key, interval, burst, cost)
  local capacity = interval * burst
  local now = nowUs()
  local tat = tonumber(redis.call('GET', key) or 0)
  if tat < now then tat = now end
  local newTat = tat + interval * cost
  local early = (newTat - now) - capacity
  if early > TOKEN_BUCKET_SLACK_US then
    local left = math.floor((capacity - (tat - now) + TOKEN_BUCKET_SLACK_US) / interval)
    return 0, left, math.ceil(early / 1000), math.ceil((tat - now) / 1000)
  end
  local resetMs = math.max(1, math.ceil((newTat - now) / 1000))
  redis.call('SET', key, string.format('%.3f', newTat), 'PX', resetMs)
  return 1, math.floor((TOKEN_BUCKET_SLACK_US - early) / interval), 0, resetMs
end
