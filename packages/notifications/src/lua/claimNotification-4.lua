--[[
  Claims a notification's dedupe key for the whole dedupe window and names the job the claim is
  for, so exactly one of any number of concurrent callers enqueues it and no confirm step follows.
  A claim past its pending time whose job is neither in the queue (BullMQ or the fair backlog) nor
  recorded as handled by a worker (its claimer died between claim and enqueue) is taken over,
  keeping the claim's job id (a late add by the first claimer is then refused as a duplicate id, by
  BullMQ or by the fair backlog) and its TTL.

  Values: "<staleAtMs>.<jobId without its "notify-" prefix>" until a caller has seen the job queued
  (60 bytes for an e-mail: within jemalloc's 64-byte class); "job.<jobId>" after.

  KEYS[1]  the dedupe key, notify:{tenantId}:{type}:{dedupeKey}
  KEYS[2]  the BullMQ job hash of ARGV[4]
  KEYS[3]  the status hash of ARGV[4], notify-status:{jobId}
  KEYS[4]  the fair backlog's jobs hash of ARGV[4]'s queue (jobId -> JSON of a pending or in-flight
           job; never written for a plain queue): a job there counts as queued, checked in this
           call, so a job entering the fair backlog cannot slip between a check and a takeover.
           BullMQ adds a handed-out job before the backlog forgets it: the job is always in KEYS[2]
           or KEYS[4]
  ARGV[1]  dedupe window in milliseconds
  ARGV[2]  pending time in milliseconds (how long this caller's claim is safe from takeover)
  ARGV[3]  "own" mode: the window bucket ARGV[4] derives from, floor(nowMs / window) by the
           caller's clock
  ARGV[4]  a job id: this call's own ("own"), or the one a reply 3 named ("adopt", "clear")
  ARGV[5]  "own"; "adopt": take over a stale claim of ARGV[4] (same channel, another window's job);
           "clear": delete a stale claim of ARGV[4] (another channel's job), then call again as
           "own". Either re-checks the job in KEYS[2..4] first
  ARGV[6]  "1" on a Redis Cluster, where the keys live in different slots: only KEYS[1] is passed
           (four times) and touched. The caller checks the job (BullMQ and the fair backlog, by
           `getJob`) and its status before a takeover (every stale claim answers reply 3 in "own"
           mode; a job entering the fair backlog between that check and the takeover is then
           refused as a duplicate id) and writes the "queued" status after its enqueue; a lost
           dedupe key is refused by the job id alone (BullMQ keeps a finished job for the window by
           default)

  Returns
    { 1, jobId, nowMs }  claimed (own, or taken over): enqueue jobId; the value written is
                         "<nowMs + ARGV[2]>.<jobId without "notify-">"
    { 0, jobId }         held by a twin; jobId is '' while its job is not known to be queued
    { 2, nowMs }         call again as "own" with ids derived from nowMs (ARGV[3] is not the current
                         bucket by Redis time, or the key changed since reply 3, or it was cleared)
    { 3, jobId }         a stale claim names another job id: check it in its queue, then call
                         "adopt" or "clear" with that job's keys
]]
--- @include "nowMs"
local now = nowMs()
local window = tonumber(ARGV[1])
local staleAt = now + tonumber(ARGV[2])
local mode = ARGV[5]
local PREFIX = 'notify-'
local split = ARGV[6] == '1'

local function claimValue(jobId)
  return staleAt .. '.' .. string.sub(jobId, #PREFIX + 1)
end

-- The job's status: false (none), "queued" (a claim made it), or what a worker recorded.
local function statusState()
  if split then
    return false
  end
  return redis.call('HGET', KEYS[3], 'state')
end

local function initStatus(state)
  if state == false and not split then
    redis.call('HSET', KEYS[3], 'state', 'queued', 'attempts', '0', 'updatedAt', now)
    redis.call('PEXPIRE', KEYS[3], window)
  end
end

local value = redis.call('GET', KEYS[1])
if not value then
  if mode ~= 'own' or math.floor(now / window) ~= tonumber(ARGV[3]) then
    return { 2, now }
  end
  -- A worker already handled this window's job (the key was lost, e.g. deleted by hand): a twin.
  local state = statusState()
  if state ~= false and state ~= 'queued' then
    redis.call('SET', KEYS[1], 'job.' .. ARGV[4], 'PX', window)
    return { 0, ARGV[4] }
  end
  redis.call('SET', KEYS[1], claimValue(ARGV[4]), 'PX', window)
  initStatus(state)
  return { 1, ARGV[4], now }
end
if string.sub(value, 1, 4) == 'job.' then
  return { 0, string.sub(value, 5) }
end
local claimStaleAt, rest = string.match(value, '^(%d+)%.(.+)$')
if not rest then
  -- Another format (an older version's "pending.<token>", which expires by itself).
  return { 0, '' }
end
local jobId = PREFIX .. rest
local stale = now >= tonumber(claimStaleAt)
if jobId ~= ARGV[4] then
  if mode ~= 'own' then
    return { 2, now }
  end
  if stale then
    return { 3, jobId }
  end
  return { 0, '' }
end

-- The claim names ARGV[4]. In the queue (BullMQ or the fair backlog), or taken by a worker (its
-- status outlives a job removed after it finished): the notification is on its way.
local state = statusState()
local seen = not split and ((state ~= false and state ~= 'queued') or redis.call('EXISTS', KEYS[2]) == 1
  or redis.call('HEXISTS', KEYS[4], jobId) == 1)
if seen then
  redis.call('SET', KEYS[1], 'job.' .. jobId, 'KEEPTTL')
  return { 0, jobId }
end
if not stale then
  return { 0, '' }
end
if mode == 'clear' then
  redis.call('DEL', KEYS[1])
  if state == 'queued' and not split then
    redis.call('DEL', KEYS[3])
  end
  return { 2, now }
end
if mode == 'own' and split then
  return { 3, jobId }
end
redis.call('SET', KEYS[1], claimValue(jobId), 'KEEPTTL')
initStatus(state)
return { 1, jobId, now }
