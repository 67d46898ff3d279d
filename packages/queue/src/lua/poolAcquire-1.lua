--[[
  Takes a slot of a shared concurrency pool for a job: at most `max` live leases in the pool and,
  with a per-tenant cap, at most `perTenant` of one tenant. Members are "<tenantId>|<queue>|<jobId>"
  (tenant ids have no "|"), so one key holds the pool and the per-tenant count needs no other key.

  KEYS[1]  pool  zset  member -> lease expiry ms

  ARGV[1]  member
  ARGV[2]  the member's tenant part, "<tenantId>|"
  ARGV[3]  max
  ARGV[4]  perTenant (0 = no per-tenant cap)
  ARGV[5]  lease ms

  Returns 0 when the slot is held (taken now, or refreshed if the member held it already), else the
  ms until the earliest lease expires (at least 1): the pool or the tenant's share is full.
]]
--- @include "nowMs"
--- @include "leases"
local rcall = redis.call
local now = nowMs()
local member = ARGV[1]
local max = tonumber(ARGV[3])
local perTenant = tonumber(ARGV[4])
local leaseMs = tonumber(ARGV[5])
local live = leaseLive(KEYS[1], now)
if rcall('ZSCORE', KEYS[1], member) then
  leasePut(KEYS[1], member, leaseMs, now)
  return 0
end
if live >= max then return math.max(leaseWaitMs(KEYS[1], now), 1) end
if perTenant > 0 then
  local prefix = ARGV[2]
  local mine = 0
  for _, m in ipairs(rcall('ZRANGE', KEYS[1], 0, -1)) do
    if string.sub(m, 1, #prefix) == prefix then mine = mine + 1 end
  end
  if mine >= perTenant then return math.max(leaseWaitMs(KEYS[1], now), 1) end
end
leasePut(KEYS[1], member, leaseMs, now)
return 0
