--[[
  claimNotification(now, dedupeKey, jobKey, statusKey, fairJobsKey, window, pendingMs, bucket,
  jobId, mode, split) -> code, jobId, now: the body of claimNotification-4.lua as a function of
  flat arguments (that script's keys 1-4, then its arguments 1-3 as numbers, 4 and 5, and
  whether argument 6 is "1", as documented there; `now` is the Redis time in ms). Returns the three elements of that script's
  reply as three values, so a batch builds no table per call. Shared by the single script and its
  batch twin claimNotificationBatch-0.lua.
]]
local function claimNotification(now, dedupeKey, jobKey, statusKey, fairJobsKey, window, pendingMs, bucket, jobId, mode, split)
  local value = redis.call('GET', dedupeKey)
  if not value then
    if mode ~= 'own' or math.floor(now / window) ~= bucket then
      return 2, '', now
    end
    -- A worker already handled this window's job (the key was lost, e.g. deleted by hand): a twin.
    -- A status is false (none: no worker took the job yet, claims write none), what a worker
    -- recorded, or "queued" (written by the claims of earlier versions; read as none).
    local state = not split and redis.call('HGET', statusKey, 'state')
    if state and state ~= 'queued' then
      redis.call('SET', dedupeKey, 'job.' .. jobId, 'PX', window)
      return 0, jobId, now
    end
    redis.call('SET', dedupeKey, (now + pendingMs) .. '.' .. string.sub(jobId, 8), 'PX', window)
    return 1, jobId, now
  end
  if string.sub(value, 1, 4) == 'job.' then
    return 0, string.sub(value, 5), now
  end
  local claimStaleAt, rest = string.match(value, '^(%d+)%.(.+)$')
  if not rest then
    -- Another format (an older version's "pending.<token>", which expires by itself).
    return 0, '', now
  end
  -- The claim's job id: "notify-" (7 characters, cut from the value) and the rest.
  local claimJobId = 'notify-' .. rest
  local stale = now >= tonumber(claimStaleAt)
  if claimJobId ~= jobId then
    if mode ~= 'own' then
      return 2, '', now
    end
    if stale then
      return 3, claimJobId, now
    end
    return 0, '', now
  end

  -- The claim names jobId. In the queue (BullMQ, or the fair backlog's jobs hash: one or the
  -- other at every moment), or taken by a worker (its status outlives a job removed after it
  -- finished): the notification is on its way.
  local state = not split and redis.call('HGET', statusKey, 'state')
  local seen = not split and ((state and state ~= 'queued') or redis.call('EXISTS', jobKey) == 1
    or redis.call('HEXISTS', fairJobsKey, jobId) == 1)
  if seen then
    redis.call('SET', dedupeKey, 'job.' .. jobId, 'KEEPTTL')
    return 0, jobId, now
  end
  if not stale then
    return 0, '', now
  end
  if mode == 'clear' then
    redis.call('DEL', dedupeKey)
    -- An earlier version's "queued" status of the job that never made it.
    if state == 'queued' then
      redis.call('DEL', statusKey)
    end
    return 2, '', now
  end
  if mode == 'own' and split then
    return 3, jobId, now
  end
  redis.call('SET', dedupeKey, (now + pendingMs) .. '.' .. string.sub(jobId, 8), 'KEEPTTL')
  return 1, jobId, now
end
