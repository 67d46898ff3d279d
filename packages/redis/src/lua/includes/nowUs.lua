--[[
  nowUs(): the Redis server clock (TIME) in µs since the epoch, exact up to 2^53 µs
  (the year 2255).
]]
local function nowUs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
