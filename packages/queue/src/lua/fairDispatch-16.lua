--[[
  Releases the next held jobs into BullMQ: stride scheduling over tenants by weight, skipping
  tenants that are paused, at maxActive or over their rate (code settings with runtime controls
  applied). Each picked job is moved from BullMQ's delayed set (where it is held) to the wait list
  or the prioritized set, as BullMQ's `promote` does (see the releaseHeld include), and takes its
  lease and rate slot. No job data goes through the caller.

  Every per-tenant key is passed in KEYS: the caller names candidate tenants (those it expects at
  the head of `ready`, from the previous call's answer). The step stops when the head tenant is not
  a candidate and answers the new candidates, so the caller calls again. A job's hash is
  `ARGV[6] .. jobId`, BullMQ's job key, in the queue's hash slot like every key here (BullMQ's own
  `promote` and `moveToActive` address job hashes the same way).

  KEYS[1]  ready     zset  tenant -> virtual pass
  KEYS[2]  blocked   zset  tenant -> ms when it may be eligible again (+inf: paused until resumed)
  KEYS[3]  pass      hash  tenant -> saved pass of a blocked tenant; ':vt' = virtual time
  KEYS[4]  cfg       hash  tenant -> "weight|maxActive|rateMax|rateDurationMs|maxPending" (code)
  KEYS[5]  ctl       hash  tenant -> runtime controls JSON
  KEYS[6]  workers   zset  workerId -> heartbeat expiry ms
  KEYS[7]  wconc     hash  workerId -> concurrency
  KEYS[8]  BullMQ wait list
  KEYS[9]  BullMQ paused list
  KEYS[10] BullMQ prioritized zset
  KEYS[11] BullMQ delayed zset
  KEYS[12] BullMQ meta hash
  KEYS[13] BullMQ active list
  KEYS[14] BullMQ priority counter
  KEYS[15] BullMQ events stream
  KEYS[16] BullMQ marker zset
  KEYS[16 + j]  pool j (j = 1..P, P = ARGV[7])  zset  "<tenantId>|<queue>|<jobId>" -> lease expiry ms
  KEYS[17 + P..]  three per candidate tenant i (ARGV[7 + 3P + i]): KEYS[14 + P + 3i] pending set,
           KEYS[15 + P + 3i] leases, KEYS[16 + P + 3i] rate log

  ARGV[1]  fixed window (0 = twice the live workers' total concurrency): most jobs released into
           BullMQ and not yet started
  ARGV[2]  queue name (the middle part of pool members)
  ARGV[3]  lease ms (maxActive slot taken at hand-out)
  ARGV[4]  most jobs to release
  ARGV[5]  how many candidates to answer for the next call
  ARGV[6]  BullMQ's job key prefix of the queue (`<prefix>:<queue>:`)
  ARGV[7]  P: number of pools the queue's jobs run under (0 = none)
  ARGV[5 + 3j], ARGV[6 + 3j], ARGV[7 + 3j]  pool j's max, perTenant (0 = none), lease ms
  ARGV[8 + 3P..] candidate tenant ids

  Pools: a released job also takes its slot in every pool when each has headroom (live slots + 1
  <= max / 2, and the tenant's + 1 <= perTenant / 2), and the release time (Redis clock, ms) is
  appended to the job's options as `platformPoolSlotsAt`, so its worker starts it with no pool
  script and no other call (it reads the job it was given anyway). Otherwise its worker takes them (or defers the job): slots taken
  at hand-out never fill a pool past half, so jobs waiting in BullMQ never keep a nearly full pool
  from jobs that could start.

  Returns { released, { next candidate tenants }, again }: again = 1 when the step stopped with
  room left (head tenant not a candidate, or ARGV[4] jobs released).
]]
--- @include "nowMs"
--- @include "leases"
--- @include "tenantSettings"
--- @include "fairWindow"
--- @include "unblockTenant"
--- @include "releaseHeld"
local rcall = redis.call
local now = nowMs()
local leaseMs = tonumber(ARGV[3])
local maxOut = tonumber(ARGV[4])
local answer = tonumber(ARGV[5])
local queueName = ARGV[2]
local jobPrefix = ARGV[6]
local poolCount = tonumber(ARGV[7])
local pools = {}
for j = 1, poolCount do
  local perTenant = tonumber(ARGV[6 + 3 * j])
  pools[j] = { key = KEYS[16 + j], cap = math.floor(tonumber(ARGV[5 + 3 * j]) / 2), perTenant = perTenant,
    tenantCap = math.floor(perTenant / 2), lease = tonumber(ARGV[7 + 3 * j]), live = nil, mine = nil, added = false }
end
local firstCandidate = 8 + 3 * poolCount
local candidate = {}
for i = firstCandidate, #ARGV do candidate[ARGV[i]] = 14 + poolCount + 3 * (i - firstCandidate + 1) end
local released = 0
local again = 0
-- Read once per call: a tenant's settings (cfg and ctl do not change within the call), the last
-- pass handed out, whether workers get a marker (paused / maxed).
local settingsOf = {}
local lastPass = nil
local bull = { delayed = KEYS[11], wait = KEYS[8], prioritized = KEYS[10], pc = KEYS[14], events = KEYS[15] }

-- Records in a released job's options that it took its pool slots now: its BullMQ `opts` JSON
-- gets `"platformPoolSlotsAt":<now>` before its closing brace (no re-encoding of the rest; BullMQ
-- stores `opts` as a JSON object).
local function markHandout(jobKey, at)
  local opts = rcall('HGET', jobKey, 'opts')
  if type(opts) ~= 'string' or string.sub(opts, -1) ~= '}' then return end
  local sep = (opts == '{}') and '' or ','
  rcall('HSET', jobKey, 'opts', string.sub(opts, 1, -2) .. sep .. '"platformPoolSlotsAt":' .. string.format('%d', at) .. '}')
end

-- Whether every pool has headroom for one more job of the tenant (counts read once per call).
local function poolRoom(tenant)
  for _, p in ipairs(pools) do
    if p.cap < 1 then return false end
    if not p.live then p.live = leaseLive(p.key, now) end
    if p.live + 1 > p.cap then return false end
    if p.perTenant > 0 then
      if p.tenantCap < 1 then return false end
      if not p.mine then
        p.mine = {}
        for _, m in ipairs(rcall('ZRANGE', p.key, 0, -1)) do
          local t = string.match(m, '^([^|]*)|')
          if t then p.mine[t] = (p.mine[t] or 0) + 1 end
        end
      end
      if (p.mine[tenant] or 0) + 1 > p.tenantCap then return false end
    end
  end
  return true
end

local function poolTake(tenant, id)
  local member = tenant .. '|' .. queueName .. '|' .. id
  for _, p in ipairs(pools) do
    rcall('ZADD', p.key, string.format('%.0f', now + p.lease), member)
    p.live = p.live + 1
    if p.mine then p.mine[tenant] = (p.mine[tenant] or 0) + 1 end
    p.added = true
  end
end

-- 1. Blocked tenants whose time has come are eligible again, no earlier than the virtual time.
local due = rcall('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, tenant in ipairs(due) do unblockTenant(KEYS[2], KEYS[1], KEYS[3], tenant) end

-- 2. Fill the window.
local room = fairWindow(KEYS[6], KEYS[7], now, tonumber(ARGV[1])) - rcall('LLEN', KEYS[8])
  - rcall('LLEN', KEYS[9]) - rcall('ZCARD', KEYS[10])
if room > maxOut then
  room = maxOut
  again = 1
end
local guard = room * 4 + 1000
while room > 0 and guard > 0 do
  guard = guard - 1
  local head = rcall('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #head == 0 then
    again = 0
    break
  end
  local tenant = head[1]
  local k = candidate[tenant]
  if not k then
    again = 1
    break
  end
  local pass = tonumber(head[2])
  local s = settingsOf[tenant]
  if not s then
    s = tenantSettings(rcall('HGET', KEYS[4], tenant), tenantCtl(KEYS[5], tenant), now)
    settingsOf[tenant] = s
  end
  local pendingKey, leaseKey, rateKey = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  local blockUntil = nil
  if s.pausedUntil then
    blockUntil = s.pausedUntil
    if blockUntil < 0 then blockUntil = '+inf' end
  end
  if not blockUntil and s.maxActive > 0 then
    rcall('ZREMRANGEBYSCORE', leaseKey, '-inf', now)
    if rcall('ZCARD', leaseKey) >= s.maxActive then
      blockUntil = tonumber(rcall('ZRANGE', leaseKey, 0, 0, 'WITHSCORES')[2])
    end
  end
  if not blockUntil and s.rateMax > 0 then
    rcall('ZREMRANGEBYSCORE', rateKey, '-inf', now - s.rateDur)
    if rcall('ZCARD', rateKey) >= s.rateMax then
      blockUntil = tonumber(rcall('ZRANGE', rateKey, 0, 0, 'WITHSCORES')[2]) + s.rateDur + 1
    end
  end
  if blockUntil then
    rcall('ZREM', KEYS[1], tenant)
    rcall('HSET', KEYS[3], tenant, pass)
    rcall('ZADD', KEYS[2], blockUntil, tenant)
  else
    local popped = rcall('ZPOPMIN', pendingKey)
    local id = popped[1]
    -- A held job removed meanwhile (drain, job.remove) or promoted by hand is skipped.
    local ok = id and releaseHeld(bull, jobPrefix .. id, id)
    if ok then
      if s.maxActive > 0 then
        rcall('ZADD', leaseKey, now + leaseMs, id)
        rcall('PEXPIRE', leaseKey, leaseMs * 2)
      end
      if s.rateMax > 0 then
        rcall('ZADD', rateKey, now, id)
        rcall('PEXPIRE', rateKey, s.rateDur + 1000)
      end
      if poolCount > 0 and poolRoom(tenant) then
        poolTake(tenant, id)
        markHandout(jobPrefix .. id, now)
      end
      released = released + 1
      room = room - 1
      lastPass = pass
    end
    if rcall('EXISTS', pendingKey) == 0 then
      rcall('ZREM', KEYS[1], tenant)
      rcall('HDEL', KEYS[4], tenant)
    elseif ok then
      rcall('ZADD', KEYS[1], pass + 1 / s.weight, tenant)
    end
  end
end
if lastPass then rcall('HSET', KEYS[3], ':vt', lastPass) end
-- Wake a worker, as BullMQ's promote does, unless the queue is paused or at its concurrency.
if released > 0 and heldGate(KEYS[12], KEYS[13]) then rcall('ZADD', KEYS[16], 0, '0') end
for _, p in ipairs(pools) do
  if p.added then
    local last = rcall('ZRANGE', p.key, -1, -1, 'WITHSCORES')
    rcall('PEXPIRE', p.key, math.max(tonumber(last[2]) - now, 1))
  end
end
return { released, rcall('ZRANGE', KEYS[1], 0, answer - 1), again }
