--[[
  How many leases of a set are live now (read only).

  KEYS[1]  lease set (see takeLease)

  Returns the number of leases whose expiry is after now.
]]
--- @include "nowMs"
--- @include "leases"
return leaseCount(KEYS[1], nowMs())
