--[[
  nowMs(): the Redis server clock (TIME) in whole ms since the epoch. Every expiry a script
  compares against comes from this clock, so callers' clocks never matter.
]]
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
