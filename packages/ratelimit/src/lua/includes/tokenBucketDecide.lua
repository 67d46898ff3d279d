--[[
  tokenBucketDebt(key, now) -> how far the stored TAT lies ahead of `now`, in µs (0: bucket full)
  tokenBucketDecide(key, interval, burst, cost) -> allowed (1|0), remaining, retryAfterMs, resetMs
  GCRA (needs the "nowUs" include before it): the key holds the theoretical arrival time (TAT,
  µs), the Redis time at which the bucket is full again; a bucket holds `burst` tokens and gains
  one per `interval` µs. Taking `cost` tokens moves TAT by cost * interval; allowed when the new
  TAT is at most burst * interval ahead of now. Refused calls take nothing. resetMs: until full.
  The TAT is stored as whole µs and thousandths ('%.3f' form) and never held in one double: near
  1.8e15 µs a double resolves only 0.25 µs, and a token of 10.12 µs rounded to 10 µs on every call
  would let 1.2 % more calls through than the rate. Its whole µs (exact below 2^53) and fraction
  are read apart, so only the debt, a small number, is computed with; a new TAT is rounded up to
  the thousandth (never a token early). Times are compared at the Redis clock's resolution, with
  half a µs of slack: rounding cannot refuse a call that is due now or count a token fewer than left.
]]
local TOKEN_BUCKET_SLACK_US = 0.5

local function tokenBucketDebt(key, now)
  local stored = redis.call('GET', key)
  if not stored then return 0 end
  local whole, fraction = string.match(stored, '^(%d+)(%.%d+)$')
  local debt
  if whole then
    debt = (tonumber(whole) - now) + tonumber(fraction)
  else
    debt = (tonumber(stored) or 0) - now
  end
  if debt < 0 then debt = 0 end
  return debt
end

local function tokenBucketDecide(key, interval, burst, cost)
  local capacity = interval * burst
  local now = nowUs()
  local debt = tokenBucketDebt(key, now)
  local newDebt = debt + interval * cost
  local early = newDebt - capacity
  if early > TOKEN_BUCKET_SLACK_US then
    local left = math.floor((capacity - debt + TOKEN_BUCKET_SLACK_US) / interval)
    return 0, left, math.ceil(early / 1000), math.ceil(debt / 1000)
  end
  local resetMs = math.max(1, math.ceil(newDebt / 1000))
  local whole = math.floor(newDebt)
  local thousandths = math.ceil((newDebt - whole) * 1000)
  if thousandths >= 1000 then whole, thousandths = whole + 1, 0 end
  redis.call('SET', key, string.format('%.0f.%03d', now + whole, thousandths), 'PX', resetMs)
  return 1, math.floor((TOKEN_BUCKET_SLACK_US - early) / interval), 0, resetMs
end
