--[[
  claimNotification for many calls in one atomic call (see createScriptBatcher): each call in turn
  exactly as claimNotification-4.lua (a dedupe key named by two calls: the second sees the first's
  claim and answers as a twin).

  KEYS     per call, in turn: dedupe key, BullMQ job hash, status hash, fair backlog jobs hash
  ARGV[1]  keys per call (4)
  ARGV[2]  arguments per call (6)
  ARGV[2 + 6 * (i - 1) + 1 .. 6]  call i's arguments, as claimNotification-4.lua's ARGV

  Returns, flattened, per call: {1, claimNotification's reply} or {0, error message}
]]
--- @include "nowMs"
--- @include "claimNotification"
--- @include "eachCall"
return eachCall(claimNotification)
