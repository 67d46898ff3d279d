--[[
  Called when a worker starts a job of a fair queue whose tenant has a limit or a control. A job
  handed out by fairDispatch already holds its lease (refreshed here). A job that reached the
  worker another way (delayed, retried, or its lease expired while it waited) must take a free
  slot and a rate slot now, or wait. A paused tenant's job waits.

  KEYS[1]  leases    zset  jobId -> lease expiry ms (one tenant)
  KEYS[2]  rate log  zset  jobId -> ms it was counted (one tenant)
  KEYS[3]  ctl       hash  tenant -> runtime controls JSON

  ARGV[1]  jobId
  ARGV[2]  lease ms
  ARGV[3]  tenantId
  ARGV[4]  the code's settings "weight|maxActive|rateMax|rateDurationMs|maxPending"
  ARGV[5]  the attempt's rate log entry: the jobId for a first attempt (the entry of its hand-out),
           "<jobId>|<attemptsMade>" for a retry, so each attempt counts once against the rate

  Returns { code, ms }: code 0 = run (no lease held), 1 = run holding a lease (release it at the
  end), 2 = wait ms (slot or rate), 3 = wait ms (tenant paused).
]]
--- @include "nowMs"
--- @include "leases"
--- @include "tenantSettings"
local rcall = redis.call
local now = nowMs()
local id = ARGV[1]
local leaseMs = tonumber(ARGV[2])
local s = tenantSettings(ARGV[4], tenantCtl(KEYS[3], ARGV[3]), now)
if s.pausedUntil then
  -- A job handed out before the pause gives its slot back while it waits.
  rcall('ZREM', KEYS[1], id)
  local wait = 1000
  if s.pausedUntil > 0 then wait = math.min(s.pausedUntil - now, 1000) end
  return { 3, math.max(wait, 1) }
end
if s.maxActive > 0 then
  local live = leaseLive(KEYS[1], now)
  local leased = rcall('ZSCORE', KEYS[1], id) ~= false
  if not leased and live >= s.maxActive then
    return { 2, math.max(leaseWaitMs(KEYS[1], now), 1) }
  end
elseif rcall('ZSCORE', KEYS[1], id) then
  -- Handed out under a limit that is gone now: its slot is not needed.
  rcall('ZREM', KEYS[1], id)
end
if s.rateMax > 0 then
  rcall('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - s.rateDur)
  if not rcall('ZSCORE', KEYS[2], ARGV[5]) then
    if rcall('ZCARD', KEYS[2]) >= s.rateMax then
      local oldest = tonumber(rcall('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2])
      return { 2, math.max(oldest + s.rateDur + 1 - now, 1) }
    end
    rcall('ZADD', KEYS[2], now, ARGV[5])
    rcall('PEXPIRE', KEYS[2], s.rateDur + 1000)
  end
end
if s.maxActive > 0 then
  leasePut(KEYS[1], id, leaseMs, now)
  return { 1, 0 }
end
return { 0, 0 }
