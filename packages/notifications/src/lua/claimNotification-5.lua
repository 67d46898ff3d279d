--[[
  Claims a notification's dedupe key for the whole dedupe window and names the job the claim is
  for, so exactly one of any number of concurrent callers enqueues it and no confirm step follows.
  A claim past its pending time whose job is neither in the queue nor recorded as handled by a
  worker (its claimer died between claim and enqueue) is taken over by the caller, keeping the
  claim's job id (a late add of the first claimer is then a BullMQ no-op) and its TTL.

  Values: "claim.<staleAtMs>.<jobId>" until a caller has seen the job; "job.<jobId>" after.

  KEYS[1]  the dedupe key, notify:{tenantId}:{type}:{dedupeKey}
  KEYS[2]  the BullMQ job hash of ARGV[4]
  KEYS[3]  the status hash of ARGV[4], notify-status:{jobId}
  KEYS[4]  the BullMQ job hash of ARGV[5]
  KEYS[5]  the status hash of ARGV[5]
  ARGV[1]  dedupe window in milliseconds
  ARGV[2]  pending time in milliseconds (how long this caller's claim is safe from takeover)
  ARGV[3]  the window bucket ARGV[4] is derived from, floor(nowMs / window) by the caller's clock
  ARGV[4]  the job id of this call in the current bucket
  ARGV[5]  another job id a held claim may name: this call's id in the previous bucket ("prev"),
           or the id a reply 3 named, checked by the caller as absent from its queue ("same":
           same channel, adopt it; "other": another channel, claim afresh under ARGV[4])
  ARGV[6]  "prev" | "same" | "other", the role of ARGV[5]
  ARGV[7]  "1" when the queue may hold a job outside its BullMQ hash (a fair queue's backlog):
           a takeover then needs the caller's check first (reply 3)

  Returns
    { 1, jobId, nowMs }  claimed (new, or taken over): enqueue jobId; the value is
                         "claim.<nowMs + ARGV[2]>.<jobId>"
    { 0, jobId }         held by a twin; jobId is '' while its job is not known to be queued
    { 2, nowMs }         ARGV[3] is not the current bucket by Redis time: derive the ids from nowMs, call again
    { 3, jobId }         a stale claim names a job this call cannot check here: check its queue, call again
]]
--- @include "nowMs"
local now = nowMs()
local window = tonumber(ARGV[1])
local staleAt = now + tonumber(ARGV[2])

local function initStatus(key)
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'state', 'queued', 'attempts', '0', 'updatedAt', now)
    redis.call('PEXPIRE', key, window)
  end
end

-- A fresh claim for this call's own job, for a whole window from now.
local function claimOwn()
  if math.floor(now / window) ~= tonumber(ARGV[3]) then
    return { 2, now }
  end
  redis.call('SET', KEYS[1], 'claim.' .. staleAt .. '.' .. ARGV[4], 'PX', window)
  initStatus(KEYS[3])
  return { 1, ARGV[4], now }
end

local value = redis.call('GET', KEYS[1])
if not value then
  return claimOwn()
end
if string.sub(value, 1, 4) == 'job.' then
  return { 0, string.sub(value, 5) }
end
local claimStaleAt, jobId = string.match(value, '^claim%.(%d+)%.(.+)$')
if not jobId then
  -- Another format (an older version's "pending.<token>", which expires by itself).
  return { 0, '' }
end
local stale = now >= tonumber(claimStaleAt)
local jobKey, statusKey, checked
if ARGV[6] ~= 'prev' and jobId == ARGV[5] then
  jobKey, statusKey, checked = KEYS[4], KEYS[5], true
elseif jobId == ARGV[4] then
  jobKey, statusKey = KEYS[2], KEYS[3]
elseif ARGV[6] == 'prev' and jobId == ARGV[5] then
  jobKey, statusKey = KEYS[4], KEYS[5]
elseif stale then
  return { 3, jobId }
else
  return { 0, '' }
end

-- In the queue, or taken by a worker (whose status outlives a job removed after it finished).
local seen = redis.call('EXISTS', jobKey) == 1
if not seen then
  local state = redis.call('HGET', statusKey, 'state')
  seen = state ~= false and state ~= 'queued'
end
if seen then
  redis.call('SET', KEYS[1], 'job.' .. jobId, 'KEEPTTL')
  return { 0, jobId }
end
if not stale then
  return { 0, '' }
end
if ARGV[7] == '1' and not checked then
  return { 3, jobId }
end
if checked and ARGV[6] == 'other' then
  return claimOwn()
end
redis.call('SET', KEYS[1], 'claim.' .. staleAt .. '.' .. jobId, 'KEEPTTL')
initStatus(statusKey)
return { 1, jobId, now }
