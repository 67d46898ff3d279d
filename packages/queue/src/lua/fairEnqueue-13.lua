--[[
  Records held jobs in their tenants' pending sets (fair scheduling). Runs in one MULTI right after
  BullMQ's adds of the same jobs as held jobs (delayed by the hold, ARGV[#ARGV]), so a job is held
  in BullMQ and pending here, or neither. A job BullMQ did not add (a duplicate jobId, or a twin it
  deduplicated) is not recorded. Atomic for the whole batch: when a tenant's backlog cap
  (maxPending) would be exceeded, the jobs just added are removed again and nothing is recorded.
  The cap counts held jobs: before refusing, pending entries whose job is no longer held are dropped.

  KEYS[1]  ready     zset  tenant -> virtual pass (tenants with pending work, eligible)
  KEYS[2]  blocked   zset  tenant -> ms when it may be eligible again (maxActive / rate / pause)
  KEYS[3]  pass      hash  tenant -> saved pass of a blocked tenant; field ':vt' = virtual time
  KEYS[4]  cfg       hash  tenant -> "weight|maxActive|rateMax|rateDurationMs|maxPending" (code)
  KEYS[5]  seq       string  counter: FIFO order within a priority
  KEYS[6]  BullMQ wait list
  KEYS[7]  BullMQ paused list
  KEYS[8]  BullMQ prioritized zset
  KEYS[9]  ctl       hash  tenant -> runtime controls JSON (see the tenantSettings include)
  KEYS[10] workers   zset  workerId -> heartbeat expiry ms
  KEYS[11] wconc     hash  workerId -> concurrency
  KEYS[12] BullMQ delayed zset
  KEYS[13] BullMQ events stream
  KEYS[13 + i]  pending set (zset jobId -> priority * 2^32 + seq) of the i-th tenant of ARGV (m of them)
  KEYS[13 + m + 2j - 1], KEYS[13 + m + 2j]  job j's BullMQ job hash, and its deduplication key
           (the job hash again when it has none)

  ARGV[1]  fixed window (0 = twice the live workers' total concurrency)
  ARGV[2]  number of tenants m, then m pairs: tenantId, cfg of the code (KEYS[13+i] is its pending set)
  ARGV[3+2m]  number of jobs n, then n groups of 5:
           tenant index (1..m), jobId, priority (0..2^21-1), 1 when it has a deduplication id else 0,
           its BullMQ timestamp
  ARGV[#ARGV - 1]  how many tenants at the head of `ready` to answer (the dispatcher's next candidates)
  ARGV[#ARGV]  the hold (ms): the `delay` BullMQ stored for a held job

  Returns { room, { head tenants }, recorded_1, ..., recorded_n }: room = free places in the
  window (the caller dispatches when > 0); recorded = 1 when job j is now pending.
  Or { 'full', tenantId, maxPending, pending } when a tenant's backlog cap refuses the batch.
]]
--- @include "nowMs"
--- @include "tenantSettings"
--- @include "fairWindow"
local rcall = redis.call
local now = nowMs()
local m = tonumber(ARGV[2])
local nBase = 3 + 2 * m
local n = tonumber(ARGV[nBase])
local hold = tonumber(ARGV[#ARGV])
local jobKeys = 13 + m

-- 1. Which jobs BullMQ just added held (a duplicate jobId or a deduplicated twin was not added).
local fresh = {}
local perTenant = {}
for j = 1, n do
  local base = nBase + 1 + (j - 1) * 5
  local t = tonumber(ARGV[base])
  local id = ARGV[base + 1]
  -- Held by this MULTI: the job hash has the hold as its delay and this batch's timestamp (BullMQ
  -- removes a held job's hash with the job), and the id is not pending yet.
  local job = rcall('HMGET', KEYS[jobKeys + 2 * j - 1], 'delay', 'timestamp')
  if tonumber(job[1]) == hold and tonumber(job[2]) == tonumber(ARGV[base + 4])
    and not fresh[id] and not rcall('ZSCORE', KEYS[13 + t], id) then
    fresh[id] = j
    perTenant[t] = (perTenant[t] or 0) + 1
  end
end

-- Whether more than `most` of a tenant's pending entries are still held. Entries whose job left the
-- delayed set or its held scores (removed by hand, replaced by a deduplicated twin, promoted) are
-- dropped on the way: the dispatcher would skip them, and until it gets to them they are no backlog.
local heldFloor = (now + hold / 2) * 0x1000
local function overCap(pendingKey, most)
  local live, from = 0, 0
  while live <= most do
    local ids = rcall('ZRANGE', pendingKey, from, from + 99)
    if #ids == 0 then return false end
    local gone = {}
    for _, id in ipairs(ids) do
      local score = rcall('ZSCORE', KEYS[12], id)
      if score and tonumber(score) >= heldFloor then live = live + 1 else gone[#gone + 1] = id end
    end
    if #gone > 0 then rcall('ZREM', pendingKey, unpack(gone)) end
    from = from + #ids - #gone
  end
  return true
end

-- 2. Backlog caps: a refused batch leaves nothing behind (BullMQ's `added` events stay, followed
-- by `removed`).
for i = 1, m do
  local tenant = ARGV[1 + 2 * i]
  if perTenant[i] then
    local s = tenantSettings(ARGV[2 + 2 * i], tenantCtl(KEYS[9], tenant), now)
    if s.maxPending > 0 then
      local pending = rcall('ZCARD', KEYS[13 + i])
      if pending + perTenant[i] > s.maxPending and overCap(KEYS[13 + i], s.maxPending - perTenant[i]) then
        pending = rcall('ZCARD', KEYS[13 + i])
        for id, j in pairs(fresh) do
          local jobKey, dedupKey = KEYS[jobKeys + 2 * j - 1], KEYS[jobKeys + 2 * j]
          rcall('ZREM', KEYS[12], id)
          rcall('DEL', jobKey)
          if dedupKey ~= jobKey and rcall('GET', dedupKey) == id then rcall('DEL', dedupKey) end
          rcall('XADD', KEYS[13], '*', 'event', 'removed', 'jobId', id, 'prev', 'delayed')
        end
        return { 'full', tenant, s.maxPending, pending }
      end
    end
  end
end

-- 3. Record. One INCRBY takes the sequence numbers of the whole batch.
local out = { 0, {} }
local vt = tonumber(rcall('HGET', KEYS[3], ':vt') or '0')
local joined = {}
local recording = 0
for _ in pairs(fresh) do recording = recording + 1 end
local seq = 0
if recording > 0 then seq = rcall('INCRBY', KEYS[5], recording) - recording end
for j = 1, n do
  local base = nBase + 1 + (j - 1) * 5
  local id = ARGV[base + 1]
  if fresh[id] == j then
    local t = tonumber(ARGV[base])
    local tenant = ARGV[1 + 2 * t]
    seq = seq + 1
    -- Lower priority number first (0 = none, served first as in BullMQ), then arrival order.
    rcall('ZADD', KEYS[13 + t], tonumber(ARGV[base + 2]) * 4294967296 + seq, id)
    if not joined[t] then
      joined[t] = true
      rcall('HSET', KEYS[4], tenant, ARGV[2 + 2 * t])
      if not rcall('ZSCORE', KEYS[1], tenant) and not rcall('ZSCORE', KEYS[2], tenant) then
        -- A tenant that (re)joins starts at the current virtual time: no credit for idle time.
        rcall('ZADD', KEYS[1], vt, tenant)
      end
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
out[1] = fairWindow(KEYS[10], KEYS[11], now, tonumber(ARGV[1])) - rcall('LLEN', KEYS[6]) - rcall('LLEN', KEYS[7])
  - rcall('ZCARD', KEYS[8])
out[2] = rcall('ZRANGE', KEYS[1], 0, tonumber(ARGV[#ARGV - 1]) - 1)
return out
