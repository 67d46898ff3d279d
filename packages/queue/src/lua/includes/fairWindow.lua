--[[
  fairWindow(workersKey, concurrencyKey, now, fixed)
    The release window of a fair queue: `fixed` when > 0, else twice the total concurrency of the
    live workers (heartbeats in workersKey: workerId -> expiry ms; concurrency in concurrencyKey),
    so a worker finds its next jobs waiting while the dispatcher refills; 1 with no live worker.
    Drops workers whose heartbeat expired.
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
  if total < 1 then return 1 end
  return 2 * total
end
