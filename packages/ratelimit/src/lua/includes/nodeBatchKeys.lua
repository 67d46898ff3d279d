--[[
  nodeBatchKeys() -> the keys of a node batch script's decisions (ARGV[3] of them, from the fourth argument
  on) as a table, and the index after which their costs follow in ARGV. A node batch gets its
  keys as arguments: they lie in different slots of one cluster master, and Redis 7 refuses
  declared keys of several slots even to a script flagged allow-cross-slot-keys.
]]
local function nodeBatchKeys()
  local n = tonumber(ARGV[3])
  local keys = {}
  for i = 1, n do keys[i] = ARGV[3 + i] end
  return keys, 3 + n
end
