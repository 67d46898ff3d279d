--[[
  Records a failed call that another attempt may fix (5xx, 408, no answer). A closed breaker opens
  after ARGV[1] of them in a row; a failed probe opens it again. While it is open or a probe is
  running, failures of calls that started before it opened change nothing (so one probe at a time).

  KEYS[1]  the breaker's hash
  ARGV[1]  consecutive failures that open the breaker
  ARGV[2]  how long it stays open before a probe, ms
  ARGV[3]  TTL of the hash, ms
  ARGV[4]  the failure's reason (for getProviderHealth)
  ARGV[5]  "1" when the failed call was the probe (allowed as one), else "0"

  Returns
    { 0, 0 }       still closed
    { 1, waitMs }  open: hold the job for waitMs (it opened now, or was open already, or a probe
                   is running: until the probe's time is up)
]]
--- @include "nowMs"
local now = nowMs()
local state = redis.call('HGET', KEYS[1], 'state') or 'closed'
redis.call('HSET', KEYS[1], 'lastError', ARGV[4], 'lastFailureAt', now)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if state == 'open' then
  local openUntil = tonumber(redis.call('HGET', KEYS[1], 'openUntil') or '0')
  return { 1, math.max(0, openUntil - now) }
end
if state == 'half-open' and ARGV[5] ~= '1' then
  local probeUntil = tonumber(redis.call('HGET', KEYS[1], 'probeUntil') or '0')
  return { 1, math.max(0, probeUntil - now) }
end
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
if state == 'half-open' or failures >= tonumber(ARGV[1]) then
  local openUntil = now + tonumber(ARGV[2])
  redis.call('HSET', KEYS[1], 'state', 'open', 'openUntil', openUntil, 'changedAt', now)
  redis.call('HDEL', KEYS[1], 'probeUntil')
  if state == 'closed' then
    redis.call('HINCRBY', KEYS[1], 'trips', 1)
  end
  return { 1, tonumber(ARGV[2]) }
end
return { 0, 0 }
