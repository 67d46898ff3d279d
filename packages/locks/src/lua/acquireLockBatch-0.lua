--[[
  acquireLock for many calls in one atomic call (see createScriptBatcher): each call in turn
  exactly as acquireLock-2.lua (a key named twice sees the earlier call's lock).

  KEYS     per call, in turn: lock key, fence counter key (any number of calls; standalone only)
  ARGV[1]  keys per call (2)
  ARGV[2]  arguments per call (3)
  ARGV[2 + 3 * (i - 1) + 1 .. 3]  call i's owner token, lock TTL ms, fence TTL ms (0: no fence)

  Returns, flattened, per call: {1, acquireLock's reply} or {0, error message}
]]
--- @include "nowUs"
--- @include "issueFence"
--- @include "acquireLock"
--- @include "eachCall"
return eachCall(acquireLock)
