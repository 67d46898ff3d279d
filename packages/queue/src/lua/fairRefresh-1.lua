--[[
  Extends the lease of a running job (only if it still holds one).

  KEYS[1]  leases  zset  jobId -> lease expiry ms (one tenant)
  ARGV[1]  jobId
  ARGV[2]  lease ms

  Returns 1 when the lease was extended, 0 when the job holds none.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = tonumber(ARGV[2])
local changed = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + ms, ARGV[1])
if changed == 1 then redis.call('PEXPIRE', KEYS[1], ms * 2) end
return changed
