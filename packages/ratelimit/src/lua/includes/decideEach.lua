--[[
  decideEach(decide, arg1, arg2, keys, costAt) -> the flattened replies of `decide` for every key
  of `keys`, in order: decide(keys[i], arg1, arg2, cost of decision i), the cost being ARGV[costAt + i].
  A decision whose Redis command fails (the key holds another type; on a cluster, a key this node
  does not serve) gives {-1, error message, 0, 0} and leaves its key unchanged (each decision reads
  its key before it writes); the other decisions stand.
]]
local function decideEach(decide, arg1, arg2, keys, costAt)
  local out = {}
  local n = 0
  for i = 1, #keys do
    local ok, allowed, remaining, retryMs, resetMs = pcall(decide, keys[i], arg1, arg2, tonumber(ARGV[costAt + i]))
    if not ok then
      local message = allowed
      if type(message) == 'table' then message = message.err end
      allowed, remaining, retryMs, resetMs = -1, tostring(message), 0, 0
    end
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = allowed, remaining, retryMs, resetMs
    n = n + 4
  end
  return out
end
