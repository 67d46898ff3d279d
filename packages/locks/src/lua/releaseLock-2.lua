--[[
  Releases a lock if the caller still owns it: deletes it and, only if some process has registered
  waiters for it, tells them on the release channel (no PUBLISH when nobody waits).

  KEYS[1]  lock key
  KEYS[2]  waiters key (see registerWaiters), in the same hash slot as KEYS[1]
  ARGV[1]  owner token
  ARGV[2]  release channel (waiters subscribe to it to wake at once instead of polling)

  Returns
    1  released
    0  not the owner (expired or taken over); nothing was changed
]]
--- @include "releaseLock"
return releaseLock(KEYS, ARGV)
