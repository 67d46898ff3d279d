--[[
  Claims a notification's dedupe key for a short pending time (SET NX PX), so that exactly one of
  any number of concurrent callers goes on to enqueue. The pending TTL is short on purpose: a
  process that dies before it enqueues must not suppress the notification for the whole window.

  KEYS[1]  the dedupe key, notify:{tenantId}:{type}:{dedupeKey}
  ARGV[1]  the caller's claim token (stored as the value while pending)
  ARGV[2]  pending TTL in milliseconds

  Returns
    { 1, nowMs }          claimed; nowMs is the Redis server time of the claim (from TIME)
    { 0, value, pttlMs }  already held: value is a claim token (pending) or "job.<jobId>" (enqueued)
]]
--- @include "nowMs"
local now = nowMs()
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return { 1, now }
end
local value = redis.call('GET', KEYS[1])
return { 0, value or '', redis.call('PTTL', KEYS[1]) }
