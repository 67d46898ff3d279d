--[[
  Concurrency limiter, read only: how many leases are live now.

  KEYS[1] leases (sorted set: lease id scored by expiry, Redis time in ms)
  Returns the number of leases whose expiry is after now.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
