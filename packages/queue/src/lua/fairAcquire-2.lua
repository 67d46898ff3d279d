--[[
  Called when a worker starts a job of a fair queue. A job handed out by fairDispatch already
  holds its lease (refreshed here). A job that reached the worker another way (delayed, retried,
  or its lease expired while it waited) must take a free slot and a rate slot now, or wait.

  KEYS[1]  leases    zset  jobId -> lease expiry ms (one tenant)
  KEYS[2]  rate log  zset  jobId -> ms it was counted (one tenant)

  ARGV[1]  jobId
  ARGV[2]  lease ms
  ARGV[3]  maxActive (0 = no limit)
  ARGV[4]  rate max (0 = no rate)
  ARGV[5]  rate duration ms

  Returns 0 when the job may run, else the ms to wait before trying again.
]]
--- @include "nowMs"
--- @include "leases"
local rcall = redis.call
local now = nowMs()
local id = ARGV[1]
local leaseMs = tonumber(ARGV[2])
local maxActive = tonumber(ARGV[3])
local rateMax = tonumber(ARGV[4])
local rateDur = tonumber(ARGV[5])
local leased = false
if maxActive > 0 then
  local live = leaseLive(KEYS[1], now)
  leased = rcall('ZSCORE', KEYS[1], id) ~= false
  if not leased and live >= maxActive then
    return math.max(leaseWaitMs(KEYS[1], now), 1)
  end
end
if rateMax > 0 then
  rcall('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - rateDur)
  if not rcall('ZSCORE', KEYS[2], id) then
    if rcall('ZCARD', KEYS[2]) >= rateMax then
      local oldest = tonumber(rcall('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2])
      return math.max(oldest + rateDur + 1 - now, 1)
    end
    rcall('ZADD', KEYS[2], now, id)
    rcall('PEXPIRE', KEYS[2], rateDur + 1000)
  end
end
if maxActive > 0 then
  leasePut(KEYS[1], id, leaseMs, now)
end
return 0
