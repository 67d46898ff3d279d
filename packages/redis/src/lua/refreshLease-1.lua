--[[
  Moves a live lease's expiry to TTL ms from now.

  KEYS[1]  lease set (see takeLease)
  ARGV[1]  lease id
  ARGV[2]  new TTL in ms, counted from now

  Returns
    1  refreshed
    0  not held any more (expired or released); an expired one is removed
]]
--- @include "nowMs"
--- @include "leases"
return leaseRefresh(KEYS[1], ARGV[1], tonumber(ARGV[2]), nowMs())
