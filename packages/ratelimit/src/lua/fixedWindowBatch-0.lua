--[[
  Fixed window for many calls in one atomic call: the decision of fixedWindow-1.lua for each
  counter in turn (a counter named twice sees the earlier decision). A counter that holds another
  type, or a value that is not an integer, gets an error entry and is left unchanged; the others
  are decided as usual.

  KEYS    the counters, one per decision, in order (any number; on a cluster all in one slot)
  ARGV[1] limit
  ARGV[2] window length, ms
  ARGV[2 + i] cost of decision i
  Returns, flattened, {allowed (1|0), remaining, retryAfterMs, resetMs} per decision, or
  {-1, error message, 0, 0} for a counter the decision could not use.
]]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local out = {}
local n = 0
for i, key in ipairs(KEYS) do
  local cost = ARGV[2 + i]
  local used = redis.pcall('INCRBY', key, cost)
  if type(used) ~= 'number' then
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = -1, used.err or 'ERR unknown', 0, 0
  else
    local ttl = redis.call('PTTL', key)
    if ttl < 0 then
      ttl = window
      redis.call('PEXPIRE', key, ttl)
    end
    if used > limit then
      used = redis.call('DECRBY', key, cost)
      out[n + 1], out[n + 2], out[n + 3], out[n + 4] = 0, limit - used, ttl, ttl
    else
      out[n + 1], out[n + 2], out[n + 3], out[n + 4] = 1, limit - used, 0, ttl
    end
  end
  n = n + 4
end
return out
