--[[
  Puts jobs into their tenants' pending sets (fair scheduling). Atomic for the whole batch.

  KEYS[1]  ready     zset  tenant -> virtual pass (tenants with pending work, eligible)
  KEYS[2]  blocked   zset  tenant -> ms when it may be eligible again (maxActive / rate)
  KEYS[3]  pass      hash  tenant -> saved pass of a blocked tenant; field ':vt' = virtual time
  KEYS[4]  cfg       hash  tenant -> "weight|maxActive|rateMax|rateDurationMs"
  KEYS[5]  jobs      hash  jobId -> JSON {name, data, opts} of a pending or in-flight job
  KEYS[6]  seq       string  counter: job ids and FIFO order within a priority
  KEYS[7]  dedup     hash  deduplication id -> pending jobId
  KEYS[8]  jobDedup  hash  jobId -> deduplication id (for pending jobs that have one)
  KEYS[9]  BullMQ wait list
  KEYS[10] BullMQ paused list
  KEYS[11] BullMQ prioritized zset
  KEYS[12] inflight  zset  jobId -> ms it was handed to BullMQ (not yet confirmed)

  ARGV[1]  key prefix of per-tenant keys ("<prefix>:<queue>:fair:"); pending set = ARGV[1].."t:"..tenant
  ARGV[2]  window: most jobs released into BullMQ and not yet started
  ARGV[3]  number of jobs n, then n groups of 6:
           tenantId, cfg, custom jobId or "", priority (0..2^21-1), deduplication id or "", job JSON

  Returns { room, id_1, existing_1, ..., id_n, existing_n }: room = free places in the window
  (the caller releases jobs when > 0); existing = 1 when the id or deduplication id was already
  pending (nothing added), as BullMQ does for a duplicate jobId.
]]
local rcall = redis.call
local tprefix = ARGV[1]
local n = tonumber(ARGV[3])
local out = { 0 }
local vt = tonumber(rcall('HGET', KEYS[3], ':vt') or '0')
for i = 0, n - 1 do
  local base = 4 + i * 6
  local tenant = ARGV[base]
  local cfg = ARGV[base + 1]
  local custom = ARGV[base + 2]
  local priority = tonumber(ARGV[base + 3])
  local dedupId = ARGV[base + 4]
  local json = ARGV[base + 5]
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
      rcall('ZADD', tprefix .. 't:' .. tenant, priority * 4294967296 + seq, id)
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
out[1] = tonumber(ARGV[2]) - rcall('LLEN', KEYS[9]) - rcall('LLEN', KEYS[10]) - rcall('ZCARD', KEYS[11])
  - rcall('ZCARD', KEYS[12])
return out
