--[[
  claimNotification(keys, argv): the body of claimNotification-4.lua as a function (keys and argv
  as that script's KEYS and ARGV, documented there); the same reply. Shared by the single script
  and its batch twin claimNotificationBatch-0.lua. Include nowMs before it.
]]
local function claimNotification(keys, argv)
  local now = nowMs()
  local window = tonumber(argv[1])
  local staleAt = now + tonumber(argv[2])
  local mode = argv[5]
  local PREFIX = 'notify-'
  local split = argv[6] == '1'

  local function claimValue(jobId)
    return staleAt .. '.' .. string.sub(jobId, #PREFIX + 1)
  end

  -- The job's status: false (none: no worker took the job yet, claims write none), what a worker
  -- recorded, or "queued" (written by the claims of earlier versions; read as none).
  local function statusState()
    if split then
      return false
    end
    return redis.call('HGET', keys[3], 'state')
  end

  local value = redis.call('GET', keys[1])
  if not value then
    if mode ~= 'own' or math.floor(now / window) ~= tonumber(argv[3]) then
      return { 2, now }
    end
    -- A worker already handled this window's job (the key was lost, e.g. deleted by hand): a twin.
    local state = statusState()
    if state ~= false and state ~= 'queued' then
      redis.call('SET', keys[1], 'job.' .. argv[4], 'PX', window)
      return { 0, argv[4] }
    end
    redis.call('SET', keys[1], claimValue(argv[4]), 'PX', window)
    return { 1, argv[4], now }
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
  if jobId ~= argv[4] then
    if mode ~= 'own' then
      return { 2, now }
    end
    if stale then
      return { 3, jobId }
    end
    return { 0, '' }
  end

  -- The claim names argv[4]. In the queue (BullMQ, or the fair backlog's jobs hash: one or the
  -- other at every moment), or taken by a worker (its status outlives a job removed after it
  -- finished): the notification is on its way.
  local state = statusState()
  local seen = not split and ((state ~= false and state ~= 'queued') or redis.call('EXISTS', keys[2]) == 1
    or redis.call('HEXISTS', keys[4], jobId) == 1)
  if seen then
    redis.call('SET', keys[1], 'job.' .. jobId, 'KEEPTTL')
    return { 0, jobId }
  end
  if not stale then
    return { 0, '' }
  end
  if mode == 'clear' then
    redis.call('DEL', keys[1])
    -- An earlier version's "queued" status of the job that never made it.
    if state == 'queued' and not split then
      redis.call('DEL', keys[3])
    end
    return { 2, now }
  end
  if mode == 'own' and split then
    return { 3, jobId }
  end
  redis.call('SET', keys[1], claimValue(jobId), 'KEEPTTL')
  return { 1, jobId, now }
end
