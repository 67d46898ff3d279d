--[[
  Extends the lease of a running job (only if it still holds one).

  KEYS[1]  leases  zset  jobId -> lease expiry ms (one tenant)
  ARGV[1]  jobId
  ARGV[2]  lease ms

  Returns 1 when the lease was extended, 0 when the job holds none (an expired lease is removed,
  not revived: its slot may have gone to another job).
]]
--- @include "nowMs"
--- @include "leases"
return leaseRefresh(KEYS[1], ARGV[1], tonumber(ARGV[2]), nowMs())
