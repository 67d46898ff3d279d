--[[
  Empties the fair backlog of the given tenants: their pending jobs, stored copies and
  deduplication entries. Jobs in flight (being handed to BullMQ) are kept: they are BullMQ's now.
  The caller repeats with the tenants still in `ready` or `blocked` until none are left.

  KEYS[1]  ready     zset  tenant -> virtual pass (tenants with pending work, eligible)
  KEYS[2]  blocked   zset  tenant -> ms when it may be eligible again
  KEYS[3]  pass      hash  tenant -> saved pass of a blocked tenant; field ':vt' = virtual time
  KEYS[4]  cfg       hash  tenant -> "weight|maxActive|rateMax|rateDurationMs|maxPending"
  KEYS[5]  jobs      hash  jobId -> JSON of a pending or in-flight job
  KEYS[6]  inflight  zset  jobId -> ms handed out, not yet confirmed
  KEYS[7]  dedup     hash  deduplication id -> pending jobId
  KEYS[8]  jobDedup  hash  jobId -> deduplication id
  KEYS[8 + i]  pending set of the i-th tenant of ARGV

  ARGV[i]  tenant ids

  Returns the number of pending jobs removed.
]]
local rcall = redis.call
local removed = 0
for i, tenant in ipairs(ARGV) do
  local pendingKey = KEYS[8 + i]
  for _, id in ipairs(rcall('ZRANGE', pendingKey, 0, -1)) do
    if not rcall('ZSCORE', KEYS[6], id) then removed = removed + rcall('HDEL', KEYS[5], id) end
    local dedupId = rcall('HGET', KEYS[8], id)
    if dedupId then
      rcall('HDEL', KEYS[8], id)
      if rcall('HGET', KEYS[7], dedupId) == id then rcall('HDEL', KEYS[7], dedupId) end
    end
  end
  rcall('DEL', pendingKey)
  rcall('ZREM', KEYS[1], tenant)
  rcall('ZREM', KEYS[2], tenant)
  rcall('HDEL', KEYS[3], tenant)
  rcall('HDEL', KEYS[4], tenant)
end
return removed
