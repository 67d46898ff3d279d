--[[
  Asks a provider's circuit breaker whether a worker may call the provider now. Closed: yes. Open:
  no, until its open time has passed; then the first caller becomes the one probe (half-open) and
  every other caller waits for the probe's outcome (at most the probe timeout).

  KEYS[1]  the breaker's hash (fields: state, failures, openUntil, probeUntil, trips, probes, …)
  ARGV[1]  probe timeout, ms: a probe without an outcome this long lets another caller probe
  ARGV[2]  TTL of the hash, ms (renewed on every change)

  Returns
    { 1, 0 }       closed: call the provider
    { 2, 0 }       this caller is the probe: call the provider, report the outcome
    { 0, waitMs }  open (or a probe is running): hold the job for waitMs
]]
--- @include "nowMs"
local now = nowMs()
local state = redis.call('HGET', KEYS[1], 'state')
if not state or state == 'closed' then
  return { 1, 0 }
end
local openUntil = tonumber(redis.call('HGET', KEYS[1], 'openUntil') or '0')
local probeUntil = tonumber(redis.call('HGET', KEYS[1], 'probeUntil') or '0')
if state == 'open' and now < openUntil then
  return { 0, openUntil - now }
end
if state == 'half-open' and now < probeUntil then
  return { 0, probeUntil - now }
end
redis.call('HSET', KEYS[1], 'state', 'half-open', 'probeUntil', now + tonumber(ARGV[1]), 'changedAt', now)
redis.call('HINCRBY', KEYS[1], 'probes', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return { 2, 0 }
