--[[
  Records that the provider answered (delivered, or refused the message for good, which also
  proves it is up): the breaker closes and its failure count starts again at 0.

  KEYS[1]  the breaker's hash
  ARGV[1]  TTL of the hash, ms

  Returns
    1  the breaker was open or half-open and is closed now (the provider recovered)
    0  it was closed already
]]
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return 0
end
--- @include "nowMs"
local now = nowMs()
if state == 'closed' then
  if redis.call('HGET', KEYS[1], 'failures') ~= '0' then
    redis.call('HSET', KEYS[1], 'failures', 0)
  end
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0, 'changedAt', now)
redis.call('HDEL', KEYS[1], 'openUntil', 'probeUntil')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
