--[[
  tokenBucketDecide(key, interval, burst, cost) -> allowed (1|0), remaining, retryAfterMs, resetMs
  GCRA (needs the "nowUs" include before it): the key holds the theoretical arrival time (TAT,
  µs), the Redis time at which the bucket is full again; a bucket holds `burst` tokens and gains
  one per `interval` µs. Taking `cost` tokens moves TAT by cost * interval; allowed when the new
  TAT is at most burst * interval ahead of now. Refused calls take nothing. resetMs: until full.
]]
local function tokenBucketDecide(key, interval, burst, cost)
  local capacity = interval * burst
  local now = nowUs()
  local tat = tonumber(redis.call('GET', key) or 0)
  if tat < now then tat = now end
  local newTat = tat + interval * cost
  local allowAt = newTat - capacity
  if allowAt > now then
    return 0, math.floor((capacity - (tat - now)) / interval), math.ceil((allowAt - now) / 1000), math.ceil((tat - now) / 1000)
  end
  local resetMs = math.max(1, math.ceil((newTat - now) / 1000))
  redis.call('SET', key, string.format('%.3f', newTat), 'PX', resetMs)
  return 1, math.floor((now - allowAt) / interval), 0, resetMs
end
