--[[
  Picks the next jobs to hand to BullMQ: stride scheduling over tenants by weight, skipping
  tenants that are paused, at maxActive or over their rate (code settings with runtime controls
  applied). Takes each picked job's lease and rate slot, and marks it in flight until the caller
  confirms it was added to BullMQ (fairConfirm).

  Every per-tenant key is passed in KEYS: the caller names candidate tenants (those it expects at
  the head of `ready`, from the previous call's answer). The step stops when the head tenant is not
  a candidate and answers the new candidates, so the caller calls again.

  KEYS[1]  ready     zset  tenant -> virtual pass
  KEYS[2]  blocked   zset  tenant -> ms when it may be eligible again (+inf: paused until resumed)
  KEYS[3]  pass      hash  tenant -> saved pass of a blocked tenant; ':vt' = virtual time
  KEYS[4]  cfg       hash  tenant -> "weight|maxActive|rateMax|rateDurationMs|maxPending" (code)
  KEYS[5]  jobs      hash  jobId -> job JSON
  KEYS[6]  inflight  zset  jobId -> ms handed out, not yet confirmed
  KEYS[7]  dedup     hash  deduplication id -> pending jobId
  KEYS[8]  jobDedup  hash  jobId -> deduplication id
  KEYS[9]  BullMQ wait list
  KEYS[10] BullMQ paused list
  KEYS[11] BullMQ prioritized zset
  KEYS[12] ctl       hash  tenant -> runtime controls JSON
  KEYS[13] workers   zset  workerId -> heartbeat expiry ms
  KEYS[14] wconc     hash  workerId -> concurrency
  KEYS[14 + j]  pool j (j = 1..P, P = ARGV[7])  zset  "<tenantId>|<queue>|<jobId>" -> lease expiry ms
  KEYS[15 + P..]  three per candidate tenant i (ARGV[7 + 3P + i]): KEYS[12 + P + 3i] pending set,
           KEYS[13 + P + 3i] leases, KEYS[14 + P + 3i] rate log

  ARGV[1]  fixed window (0 = the live workers' total concurrency): most jobs released into BullMQ
           and not yet started
  ARGV[2]  ms after which an unconfirmed in-flight job is handed out again (its adder died)
  ARGV[3]  lease ms (maxActive slot taken at hand-out)
  ARGV[4]  most jobs to return
  ARGV[5]  how many candidates to answer for the next call
  ARGV[6]  queue name (the middle part of pool members)
  ARGV[7]  P: number of pools the queue's jobs run under (0 = none)
  ARGV[5 + 3j], ARGV[6 + 3j], ARGV[7 + 3j]  pool j's max, perTenant (0 = none), lease ms
  ARGV[8 + 3P..] candidate tenant ids

  Pools: a job picked from a pending set (not a stale one) also takes its slot in every pool when
  each has headroom (live slots + 1 <= max / 2, and the tenant's + 1 <= perTenant / 2), so its
  worker starts it with no pool script. Otherwise it goes out without pool slots and its worker
  takes them (or defers the job): slots taken at hand-out never fill a pool past half, so jobs
  waiting in BullMQ never keep a nearly full pool from jobs that could start.

  Returns { { jobId_1, json_1, pooled_1, ... }, { next candidate tenants }, again } where pooled = 1
  when the job holds its pool slots, and again = 1 when the step stopped with room left (head
  tenant not a candidate, or ARGV[4] jobs returned).
]]
--- @include "nowMs"
--- @include "leases"
--- @include "tenantSettings"
--- @include "fairWindow"
--- @include "unblockTenant"
local rcall = redis.call
local now = nowMs()
local leaseMs = tonumber(ARGV[3])
local maxOut = tonumber(ARGV[4])
local answer = tonumber(ARGV[5])
local queueName = ARGV[6]
local poolCount = tonumber(ARGV[7])
local pools = {}
for j = 1, poolCount do
  local perTenant = tonumber(ARGV[6 + 3 * j])
  pools[j] = { key = KEYS[14 + j], cap = math.floor(tonumber(ARGV[5 + 3 * j]) / 2), perTenant = perTenant,
    tenantCap = math.floor(perTenant / 2), lease = tonumber(ARGV[7 + 3 * j]), live = nil, mine = nil, added = false }
end
local firstCandidate = 8 + 3 * poolCount
local candidate = {}
for i = firstCandidate, #ARGV do candidate[ARGV[i]] = 12 + poolCount + 3 * (i - firstCandidate + 1) end
local out = {}
local again = 0
-- Read once per call: a tenant's settings (cfg and ctl do not change within the call), whether any
-- pending job has a deduplication id (none is added within the call), the last pass handed out.
local settingsOf = {}
local anyDedup = rcall('EXISTS', KEYS[8]) == 1
local lastPass = nil

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

-- 1. In-flight jobs nobody confirmed: hand them out again (adding with the same jobId is idempotent).
local stale = rcall('ZRANGEBYSCORE', KEYS[6], '-inf', now - tonumber(ARGV[2]), 'LIMIT', 0, maxOut)
for _, id in ipairs(stale) do
  local json = rcall('HGET', KEYS[5], id)
  if json then
    rcall('ZADD', KEYS[6], now, id)
    out[#out + 1] = id
    out[#out + 1] = json
    out[#out + 1] = 0
  else
    rcall('ZREM', KEYS[6], id)
  end
end

-- 2. Blocked tenants whose time has come are eligible again, no earlier than the virtual time.
local due = rcall('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, tenant in ipairs(due) do unblockTenant(KEYS[2], KEYS[1], KEYS[3], tenant) end

-- 3. Fill the window.
local room = fairWindow(KEYS[13], KEYS[14], now, tonumber(ARGV[1])) - rcall('LLEN', KEYS[9])
  - rcall('LLEN', KEYS[10]) - rcall('ZCARD', KEYS[11]) - rcall('ZCARD', KEYS[6])
if room > maxOut - #out / 3 then
  room = maxOut - #out / 3
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
    s = tenantSettings(rcall('HGET', KEYS[4], tenant), tenantCtl(KEYS[12], tenant), now)
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
    local json = id and rcall('HGET', KEYS[5], id)
    if json then
      rcall('ZADD', KEYS[6], now, id)
      local dedupId = anyDedup and rcall('HGET', KEYS[8], id)
      if dedupId then
        rcall('HDEL', KEYS[8], id)
        if rcall('HGET', KEYS[7], dedupId) == id then rcall('HDEL', KEYS[7], dedupId) end
      end
      if s.maxActive > 0 then
        rcall('ZADD', leaseKey, now + leaseMs, id)
        rcall('PEXPIRE', leaseKey, leaseMs * 2)
      end
      if s.rateMax > 0 then
        rcall('ZADD', rateKey, now, id)
        rcall('PEXPIRE', rateKey, s.rateDur + 1000)
      end
      local pooled = 0
      if poolCount > 0 and poolRoom(tenant) then
        poolTake(tenant, id)
        pooled = 1
      end
      out[#out + 1] = id
      out[#out + 1] = json
      out[#out + 1] = pooled
      room = room - 1
      lastPass = pass
    end
    if rcall('EXISTS', pendingKey) == 0 then
      rcall('ZREM', KEYS[1], tenant)
      rcall('HDEL', KEYS[4], tenant)
    elseif json then
      rcall('ZADD', KEYS[1], pass + 1 / s.weight, tenant)
    end
  end
end
if lastPass then rcall('HSET', KEYS[3], ':vt', lastPass) end
for _, p in ipairs(pools) do
  if p.added then
    local last = rcall('ZRANGE', p.key, -1, -1, 'WITHSCORES')
    rcall('PEXPIRE', p.key, math.max(tonumber(last[2]) - now, 1))
  end
end
return { out, rcall('ZRANGE', KEYS[1], 0, answer - 1), again }
