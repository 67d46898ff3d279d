--[[
  Frees a job's maxActivePerTenant slot when an attempt ends, and makes its tenant eligible at
  once if it was blocked (it may have been waiting for exactly this slot).

  KEYS[1]  leases   zset  jobId -> lease expiry ms (the job's tenant)
  KEYS[2]  blocked  zset  tenant -> ms when eligible again
  KEYS[3]  ready    zset  tenant -> virtual pass
  KEYS[4]  pass     hash  tenant -> saved pass; ':vt' = virtual time

  ARGV[1]  jobId
  ARGV[2]  tenantId

  Returns 1 when a lease was freed (live or expired), else 0.
]]
--- @include "nowMs"
--- @include "leases"
local rcall = redis.call
local freed = 0
if leaseRelease(KEYS[1], ARGV[1], nowMs()) ~= 0 then freed = 1 end
if freed == 1 and rcall('ZSCORE', KEYS[2], ARGV[2]) then
  local vt = tonumber(rcall('HGET', KEYS[4], ':vt') or '0')
  local pass = tonumber(rcall('HGET', KEYS[4], ARGV[2]) or vt)
  if pass < vt then pass = vt end
  rcall('ZREM', KEYS[2], ARGV[2])
  rcall('HDEL', KEYS[4], ARGV[2])
  rcall('ZADD', KEYS[3], pass, ARGV[2])
end
return freed
