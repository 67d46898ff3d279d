--[[
  releaseLock for many calls in one atomic call (see createScriptBatcher): each call in turn
  exactly as releaseLock-2.lua.

  KEYS     per call, in turn: lock key, waiters key (any number of calls; standalone only)
  ARGV[1]  keys per call (2)
  ARGV[2]  arguments per call (2)
  ARGV[2 + 2 * (i - 1) + 1 .. 2]  call i's owner token, release channel

  Returns, flattened, per call: {1, releaseLock's reply} or {0, error message}
]]
--- @include "releaseLock"
--- @include "eachCall"
return eachCall(releaseLock)
