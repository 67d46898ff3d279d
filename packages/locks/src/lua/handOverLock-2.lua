--[[
  Hands a lock straight to its next owner, a waiter of the releasing process, if the caller still
  owns it: release plus acquire in one round trip, with the next fencing token. Nobody is told: the
  lock stays held.

  KEYS[1]  lock key
  KEYS[2]  fence counter key, in the same hash slot as KEYS[1]
  ARGV[1]  owner token
  ARGV[2]  the next owner's token
  ARGV[3]  the next owner's lock TTL in ms
  ARGV[4]  fence counter TTL in ms (>= ARGV[3]); see issueFence. 0: no fencing token (the
           counter is not touched; returns 1 when handed over)

  Returns
    >= 1  handed over: the next owner's fencing token
    0     not the owner (expired or taken over); nothing was changed
]]
--- @include "nowUs"
--- @include "issueFence"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if ARGV[4] == '0' then return 1 end
return issueFence(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
