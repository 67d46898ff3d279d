--[[
  Empties the fair backlog of a queue: every pending job of every tenant, its stored copy and its
  deduplication entries. Jobs in flight (being handed to BullMQ) are kept: they are BullMQ's now.

  KEYS[1]  ready     zset  tenant -> virtual pass (tenants with pending work, eligible)
  KEYS[2]  blocked   zset  tenant -> ms when it may be eligible again
  KEYS[3]  pass      hash  tenant -> saved pass of a blocked tenant; field ':vt' = virtual time
  KEYS[4]  cfg       hash  tenant -> "weight|maxActive|rateMax|rateDurationMs"
  KEYS[5]  jobs      hash  jobId -> JSON of a pending or in-flight job
  KEYS[6]  inflight  zset  jobId -> ms handed out, not yet confirmed
  KEYS[7]  dedup     hash  deduplication id -> pending jobId
  KEYS[8]  jobDedup  hash  jobId -> deduplication id

  ARGV[1]  key prefix of per-tenant keys; pending set = ARGV[1]..'t:'..tenant

  Returns the number of pending jobs removed.
]]
local rcall = redis.call
local removed = 0
for _, key in ipairs({ KEYS[1], KEYS[2] }) do
  for _, tenant in ipairs(rcall('ZRANGE', key, 0, -1)) do
    local pendingKey = ARGV[1] .. 't:' .. tenant
    for _, id in ipairs(rcall('ZRANGE', pendingKey, 0, -1)) do
      if not rcall('ZSCORE', KEYS[6], id) then removed = removed + rcall('HDEL', KEYS[5], id) end
    end
    rcall('DEL', pendingKey)
  end
end
local vt = rcall('HGET', KEYS[3], ':vt')
rcall('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[7], KEYS[8])
if vt then rcall('HSET', KEYS[3], ':vt', vt) end
return removed
