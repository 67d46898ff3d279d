--[[
  Acquires a lock and issues its fencing token in one step.

  KEYS[1]  lock key; its value is the owner token
  KEYS[2]  fence counter key, in the same hash slot as KEYS[1]
  ARGV[1]  owner token (random, unique per acquisition)
  ARGV[2]  lock TTL in ms
  ARGV[3]  fence counter TTL in ms (>= ARGV[2]); see issueFence for when it is refreshed.
           0: no fencing token (the counter is not touched; returns 1 when acquired)

  Returns
    >= 1   acquired: the fencing token
    <= -1  held by someone else: -1 - (the holder's remaining PTTL in ms, 0 if it has none)
]]
--- @include "nowUs"
--- @include "issueFence"
--- @include "acquireLock"
return acquireLock(KEYS, ARGV)
