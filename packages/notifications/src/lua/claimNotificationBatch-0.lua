--[[
  claimNotification for many calls in one atomic call (see createScriptBatcher): each call in turn
  exactly as claimNotification-3.lua (a dedupe key named by two calls: the second sees the first's
  claim and answers as a twin).

  KEYS     per call, in turn: dedupe key, BullMQ job hash, status hash (standalone only)
  ARGV[1]  keys per call (3)
  ARGV[2]  arguments per call (7)
  ARGV[2 + 7 * (i - 1) + 1 .. 7]  call i's arguments, as claimNotification-3.lua's ARGV

  Returns, flattened, per call: {1, claimNotification's reply} or {0, error message}
]]
--- @include "nowMs"
--- @include "claimNotification"
--- @include "eachCall"
return eachCall(claimNotification)
