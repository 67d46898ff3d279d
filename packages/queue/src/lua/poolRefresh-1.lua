--[[
  Refreshes the slots a process's running jobs hold in one concurrency pool: each live lease among
  the members is set to expire lease ms from now; a member whose lease expired (or that holds
  none) is left alone, so a slot already given to someone else is never taken back.

  KEYS[1]  pool  zset  member -> lease expiry ms

  ARGV[1]  lease ms
  ARGV[2..] members "<tenantId>|<queue>|<jobId>"

  Returns the number of leases refreshed.
]]
--- @include "nowMs"
local rcall = redis.call
local now = nowMs()
local expiry = string.format('%.0f', now + tonumber(ARGV[1]))
local refreshed = 0
for i = 2, #ARGV do
  local score = rcall('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) > now then
    rcall('ZADD', KEYS[1], 'XX', expiry, ARGV[i])
    refreshed = refreshed + 1
  end
end
if refreshed > 0 then
  local last = rcall('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  rcall('PEXPIRE', KEYS[1], math.max(tonumber(last[2]) - now, 1))
end
return refreshed
