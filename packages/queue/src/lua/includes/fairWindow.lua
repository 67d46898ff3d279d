--[[
  fairWindow(workersKey, concurrencyKey, now, fixed)
    The release window of a fair queue: `fixed` when > 0, else the total concurrency of the live
    workers (heartbeats in workersKey: workerId -> expiry ms; concurrency in concurrencyKey), at
    least 1. Drops workers whose heartbeat expired.
]]
local function fairWindow(workersKey, concurrencyKey, now, fixed)
  if fixed > 0 then return fixed end
  local gone = redis.call('ZRANGEBYSCORE', workersKey, '-inf', now)
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', workersKey, '-inf', now)
    redis.call('HDEL', concurrencyKey, unpack(gone))
  end
  local total = 0
  for _, c in ipairs(redis.call('HVALS', concurrencyKey)) do total = total + (tonumber(c) or 0) end
  if total < 1 then total = 1 end
  return total
end
