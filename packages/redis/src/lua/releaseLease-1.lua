--[[
  Gives a lease back and, when it was live and a channel is given, announces the free slot there.

  KEYS[1]  lease set (see takeLease)
  ARGV[1]  lease id
  ARGV[2]  channel to PUBLISH on when a live lease was freed ('' for none)

  Returns
    1  released
    0  not held any more (expired or released before)
]]
--- @include "nowMs"
--- @include "leases"
local released = leaseRelease(KEYS[1], ARGV[1], nowMs())
if released ~= 1 then return 0 end
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], '1') end
return 1
