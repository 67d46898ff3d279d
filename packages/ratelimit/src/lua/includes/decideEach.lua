--[[
  decideEach(decide, arg1, arg2) -> the flattened replies of `decide` for every key of the call,
  in order: decide(KEYS[i], arg1, arg2, cost of decision i) for the i-th key, the cost being the
  argument after arg1 and arg2 (ARGV[2 + i]). A decision whose Redis command fails (the key holds
  another type) gives {-1, error message, 0, 0} and leaves its key unchanged (each decision reads
  its key before it writes); the other decisions stand.
]]
local function decideEach(decide, arg1, arg2)
  local out = {}
  local n = 0
  for i = 1, #KEYS do
    local ok, allowed, remaining, retryMs, resetMs = pcall(decide, KEYS[i], arg1, arg2, tonumber(ARGV[2 + i]))
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
