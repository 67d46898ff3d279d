--[[
  issueFence(fenceKey, lockTtl, fenceTtl): the next fencing token of a lock key, issued in the
  script that grants the lock (acquire, or hand-over on release). Include nowUs before it.

  Tokens strictly increase for as long as the counter lives (INCR). The counter's TTL is set to
  fenceTtl when it is created, and refreshed to fenceTtl only when it has fallen below
  max(lockTtl, fenceTtl / 2): so after every grant it outlives the lock just granted (lockTtl <=
  fenceTtl, checked by the caller), and it lives at least fenceTtl / 2 after the last grant, at
  most fenceTtl; never without a TTL (one that lost it is given one back). A counter that did expire
  (idle key, or a lock extended past it) restarts at the Redis clock in microseconds: each grant
  takes longer than a microsecond, so every earlier token is below the clock, and tokens keep
  growing across the gap as long as the Redis clock does not go back.
]]
local function issueFence(fenceKey, lockTtl, fenceTtl)
  local fence = redis.call('INCR', fenceKey)
  if fence == 1 then
    fence = nowUs()
    redis.call('SET', fenceKey, string.format('%.0f', fence), 'PX', fenceTtl)
  elseif redis.call('PTTL', fenceKey) < math.max(lockTtl, math.floor(fenceTtl / 2)) then
    redis.call('PEXPIRE', fenceKey, fenceTtl)
  end
  return fence
end
