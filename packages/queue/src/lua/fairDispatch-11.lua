--[[
  Picks the next jobs to hand to BullMQ: stride scheduling over tenants by weight, skipping
  tenants at maxActivePerTenant or over their rate. Takes each picked job's lease and rate slot,
  and marks it in flight until the caller confirms it was added to BullMQ (fairConfirm).

  KEYS[1]  ready     zset  tenant -> virtual pass
  KEYS[2]  blocked   zset  tenant -> ms when it may be eligible again
  KEYS[3]  pass      hash  tenant -> saved pass of a blocked tenant; ':vt' = virtual time
  KEYS[4]  cfg       hash  tenant -> "weight|maxActive|rateMax|rateDurationMs"
  KEYS[5]  jobs      hash  jobId -> job JSON
  KEYS[6]  inflight  zset  jobId -> ms handed out, not yet confirmed
  KEYS[7]  dedup     hash  deduplication id -> pending jobId
  KEYS[8]  jobDedup  hash  jobId -> deduplication id
  KEYS[9]  BullMQ wait list
  KEYS[10] BullMQ paused list
  KEYS[11] BullMQ prioritized zset

  ARGV[1]  key prefix of per-tenant keys: pending ..'t:'..tenant, leases ..'a:'..tenant,
           rate log ..'r:'..tenant
  ARGV[2]  window: most jobs released into BullMQ and not yet started
  ARGV[3]  ms after which an unconfirmed in-flight job is handed out again (its adder died)
  ARGV[4]  lease ms (maxActivePerTenant slot taken at hand-out)
  ARGV[5]  most jobs to return

  Returns { jobId_1, json_1, ... } (possibly empty).
]]
--- @include "nowMs"
local rcall = redis.call
local now = nowMs()
local tprefix = ARGV[1]
local window = tonumber(ARGV[2])
local leaseMs = tonumber(ARGV[4])
local maxOut = tonumber(ARGV[5])
local out = {}

-- 1. In-flight jobs nobody confirmed: hand them out again (adding with the same jobId is idempotent).
local stale = rcall('ZRANGEBYSCORE', KEYS[6], '-inf', now - tonumber(ARGV[3]), 'LIMIT', 0, maxOut)
for _, id in ipairs(stale) do
  local json = rcall('HGET', KEYS[5], id)
  if json then
    rcall('ZADD', KEYS[6], now, id)
    out[#out + 1] = id
    out[#out + 1] = json
  else
    rcall('ZREM', KEYS[6], id)
  end
end

local vt = tonumber(rcall('HGET', KEYS[3], ':vt') or '0')

-- 2. Blocked tenants whose time has come are eligible again, no earlier than the virtual time.
local due = rcall('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, 1000)
for _, tenant in ipairs(due) do
  local pass = tonumber(rcall('HGET', KEYS[3], tenant) or vt)
  if pass < vt then pass = vt end
  rcall('ZREM', KEYS[2], tenant)
  rcall('HDEL', KEYS[3], tenant)
  rcall('ZADD', KEYS[1], pass, tenant)
end

-- 3. Fill the window.
local room = window - rcall('LLEN', KEYS[9]) - rcall('LLEN', KEYS[10]) - rcall('ZCARD', KEYS[11])
  - rcall('ZCARD', KEYS[6])
if room > maxOut then room = maxOut end
local guard = room * 4 + 1000
while room > 0 and guard > 0 do
  guard = guard - 1
  local head = rcall('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #head == 0 then break end
  local tenant = head[1]
  local pass = tonumber(head[2])
  local cfg = rcall('HGET', KEYS[4], tenant) or '1|0|0|0'
  local w, maxActive, rateMax, rateDur = string.match(cfg, '^([^|]+)|([^|]+)|([^|]+)|([^|]+)$')
  w = tonumber(w) or 1
  maxActive = tonumber(maxActive) or 0
  rateMax = tonumber(rateMax) or 0
  rateDur = tonumber(rateDur) or 0
  local leaseKey = tprefix .. 'a:' .. tenant
  local rateKey = tprefix .. 'r:' .. tenant
  local blockUntil = nil
  if maxActive > 0 then
    rcall('ZREMRANGEBYSCORE', leaseKey, '-inf', now)
    if rcall('ZCARD', leaseKey) >= maxActive then
      blockUntil = tonumber(rcall('ZRANGE', leaseKey, 0, 0, 'WITHSCORES')[2])
    end
  end
  if not blockUntil and rateMax > 0 then
    rcall('ZREMRANGEBYSCORE', rateKey, '-inf', now - rateDur)
    if rcall('ZCARD', rateKey) >= rateMax then
      blockUntil = tonumber(rcall('ZRANGE', rateKey, 0, 0, 'WITHSCORES')[2]) + rateDur + 1
    end
  end
  if blockUntil then
    rcall('ZREM', KEYS[1], tenant)
    rcall('HSET', KEYS[3], tenant, pass)
    rcall('ZADD', KEYS[2], blockUntil, tenant)
  else
    local pendingKey = tprefix .. 't:' .. tenant
    local popped = rcall('ZPOPMIN', pendingKey)
    local id = popped[1]
    local json = id and rcall('HGET', KEYS[5], id)
    if json then
      rcall('ZADD', KEYS[6], now, id)
      local dedupId = rcall('HGET', KEYS[8], id)
      if dedupId then
        rcall('HDEL', KEYS[8], id)
        if rcall('HGET', KEYS[7], dedupId) == id then rcall('HDEL', KEYS[7], dedupId) end
      end
      if maxActive > 0 then
        rcall('ZADD', leaseKey, now + leaseMs, id)
        rcall('PEXPIRE', leaseKey, leaseMs * 2)
      end
      if rateMax > 0 then
        rcall('ZADD', rateKey, now, id)
        rcall('PEXPIRE', rateKey, rateDur + 1000)
      end
      out[#out + 1] = id
      out[#out + 1] = json
      room = room - 1
      rcall('HSET', KEYS[3], ':vt', pass)
    end
    if rcall('EXISTS', pendingKey) == 0 then
      rcall('ZREM', KEYS[1], tenant)
      rcall('HDEL', KEYS[4], tenant)
    elseif json then
      rcall('ZADD', KEYS[1], pass + 1 / w, tenant)
    end
  end
end
return out
