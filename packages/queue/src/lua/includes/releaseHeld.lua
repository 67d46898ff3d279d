--[[
  Releasing held jobs (BullMQ delayed jobs far in the future, see the dispatch script) into
  BullMQ's wait list or prioritized set: what BullMQ 6.7's `promote` does for one job, so a
  released job cannot be told from a promoted one (state, `waiting` event with prev `delayed`,
  `delay` 0, worker marker).

  heldGate(metaKey, activeKey)   whether workers get a marker: false when the queue is paused or
                                 at its global concurrency (BullMQ's own check, read once per call)
  releaseHeld(keys, jobKey, jobId)
      keys = { delayed, wait, prioritized, pc, events }; returns false (nothing written) when the
      job is no longer in the delayed set (removed, or promoted by hand). The priority is the job
      hash's, as `promote` reads it (`job.changePriority` of a held job changes only the hash).
]]
local function heldGate(metaKey, activeKey)
  local meta = redis.call('HMGET', metaKey, 'paused', 'concurrency')
  if meta[1] then return false end
  if meta[2] then return redis.call('LLEN', activeKey) < tonumber(meta[2]) end
  return true
end

local function releaseHeld(keys, jobKey, jobId)
  if redis.call('ZREM', keys.delayed, jobId) == 0 then return false end
  local priority = tonumber(redis.call('HGET', jobKey, 'priority')) or 0
  if priority == 0 then
    redis.call('LPUSH', keys.wait, jobId)
  else
    local counter = redis.call('INCR', keys.pc)
    redis.call('ZADD', keys.prioritized, priority * 0x100000000 + counter % 0x100000000, jobId)
  end
  redis.call('XADD', keys.events, '*', 'event', 'waiting', 'jobId', jobId, 'prev', 'delayed')
  redis.call('HSET', jobKey, 'delay', 0)
  return true
end
