--[[
  Puts jobs into their tenants' pending sets (fair scheduling). Atomic for the whole batch: when a
  tenant's backlog cap (maxPending) would be exceeded, nothing of the batch is written.

  KEYS[1]  ready     zset  tenant -> virtual pass (tenants with pending work, eligible)
  KEYS[2]  blocked   zset  tenant -> ms when it may be eligible again (maxActive / rate / pause)
  KEYS[3]  pass      hash  tenant -> saved pass of a blocked tenant; field ':vt' = virtual time
  KEYS[4]  cfg       hash  tenant -> "weight|maxActive|rateMax|rateDurationMs|maxPending" (code)
  KEYS[5]  jobs      hash  jobId -> JSON {name, data, opts} of a pending or in-flight job
  KEYS[6]  seq       string  counter: job ids and FIFO order within a priority
  KEYS[7]  dedup     hash  deduplication id -> pending jobId
  KEYS[8]  jobDedup  hash  jobId -> deduplication id (for pending jobs that have one)
  KEYS[9]  BullMQ wait list
  KEYS[10] BullMQ paused list
  KEYS[11] BullMQ prioritized zset
  KEYS[12] inflight  zset  jobId -> ms it was handed to BullMQ (not yet confirmed)
  KEYS[13] ctl       hash  tenant -> runtime controls JSON (see the tenantSettings include)
  KEYS[14] workers   zset  workerId -> heartbeat expiry ms
  KEYS[15] wconc     hash  workerId -> concurrency
  KEYS[16..15+m]  pending set (zset jobId -> priority * 2^32 + seq) of the i-th tenant of ARGV

  ARGV[1]  fixed window (0 = the live workers' total concurrency); ARGV[#ARGV] = how many tenants
           at the head of `ready` to answer (the dispatcher's next candidates)
  ARGV[2]  number of tenants m, then m pairs: tenantId, cfg of the code (KEYS[15+i] is its pending set)
  ARGV[3+2m]  number of jobs n, then n groups of 5:
           tenant index (1..m), custom jobId or "", priority (0..2^21-1), deduplication id or "", job JSON

  Returns { room, { head tenants }, id_1, existing_1, ..., id_n, existing_n }: room = free places
  in the window (the caller releases jobs when > 0); existing = 1 when the id or deduplication id was already
  pending (nothing added), as BullMQ does for a duplicate jobId.
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

-- 1. Backlog caps, before anything is written.
local perTenant = {}
for j = 0, n - 1 do
  local t = tonumber(ARGV[nBase + 1 + j * 5])
  perTenant[t] = (perTenant[t] or 0) + 1
end
for i = 1, m do
  local tenant = ARGV[1 + 2 * i]
  local s = tenantSettings(ARGV[2 + 2 * i], tenantCtl(KEYS[13], tenant), now)
  if s.maxPending > 0 and perTenant[i] then
    local pending = rcall('ZCARD', KEYS[15 + i])
    if pending + perTenant[i] > s.maxPending then
      return { 'full', tenant, s.maxPending, pending }
    end
  end
end

-- 2. Store.
local out = { 0, {} }
local vt = tonumber(rcall('HGET', KEYS[3], ':vt') or '0')
for j = 0, n - 1 do
  local base = nBase + 1 + j * 5
  local t = tonumber(ARGV[base])
  local tenant = ARGV[1 + 2 * t]
  local cfg = ARGV[2 + 2 * t]
  local custom = ARGV[base + 1]
  local priority = tonumber(ARGV[base + 2])
  local dedupId = ARGV[base + 3]
  local json = ARGV[base + 4]
  local existing = false
  if dedupId ~= '' then
    local other = rcall('HGET', KEYS[7], dedupId)
    if other and rcall('HEXISTS', KEYS[5], other) == 1 then
      out[#out + 1] = other
      out[#out + 1] = 1
      existing = true
    end
  end
  if not existing then
    local seq = rcall('INCR', KEYS[6])
    local id = custom
    if id == '' then id = 'f' .. seq end
    if rcall('HSETNX', KEYS[5], id, json) == 0 then
      out[#out + 1] = id
      out[#out + 1] = 1
    else
      -- Lower priority number first (0 = none, served first as in BullMQ), then arrival order.
      rcall('ZADD', KEYS[15 + t], priority * 4294967296 + seq, id)
      rcall('HSET', KEYS[4], tenant, cfg)
      if dedupId ~= '' then
        rcall('HSET', KEYS[7], dedupId, id)
        rcall('HSET', KEYS[8], id, dedupId)
      end
      if not rcall('ZSCORE', KEYS[1], tenant) and not rcall('ZSCORE', KEYS[2], tenant) then
        -- A tenant that (re)joins starts at the current virtual time: no credit for idle time.
        rcall('ZADD', KEYS[1], vt, tenant)
      end
      out[#out + 1] = id
      out[#out + 1] = 0
    end
  end
end
out[1] = fairWindow(KEYS[14], KEYS[15], now, tonumber(ARGV[1])) - rcall('LLEN', KEYS[9]) - rcall('LLEN', KEYS[10])
  - rcall('ZCARD', KEYS[11]) - rcall('ZCARD', KEYS[12])
out[2] = rcall('ZRANGE', KEYS[1], 0, tonumber(ARGV[#ARGV]) - 1)
return out
