--[[
  Forgets jobs that are now in BullMQ (added, or found there already).

  KEYS[1]  inflight  zset  jobId -> ms handed out
  KEYS[2]  jobs      hash  jobId -> job JSON
  ARGV     jobIds

  Returns the number of jobs forgotten.
]]
local n = 0
for _, id in ipairs(ARGV) do
  n = n + redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
return n
