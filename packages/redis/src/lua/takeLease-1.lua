--[[
  Takes one of `limit` slots of a lease set (see includes/leases.lua), dropping expired leases
  first, with the time from the Redis clock.

  KEYS[1]  lease set: sorted set, member = lease id, score = expiry (Redis time, ms)
  ARGV[1]  lease id (unique per acquisition)
  ARGV[2]  limit: the number of slots
  ARGV[3]  lease TTL in ms

  Returns { code, live }
    code >= 1   taken; live counts this lease
    code <= -1  every slot taken: -1 - (ms until the earliest lease expires)
]]
--- @include "nowMs"
--- @include "leases"
local code, live = leaseTake(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), nowMs())
return { code, live }
