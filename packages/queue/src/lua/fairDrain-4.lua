--[[
  Forgets pending jobs that the caller removed from BullMQ (fair `drain`), tenant by tenant, and
  drops a tenant whose pending set is then empty. Ids enqueued since the caller read the pending
  sets stay pending.

  KEYS[1]  ready     zset  tenant -> virtual pass (tenants with pending work, eligible)
  KEYS[2]  blocked   zset  tenant -> ms when it may be eligible again
  KEYS[3]  pass      hash  tenant -> saved pass of a blocked tenant; field ':vt' = virtual time
  KEYS[4]  cfg       hash  tenant -> "weight|maxActive|rateMax|rateDurationMs|maxPending"
  KEYS[4 + i]  pending set of the i-th tenant of ARGV

  ARGV     per tenant: tenantId, k, then its k job ids

  Returns the number of ids removed from pending sets.
]]
local rcall = redis.call
local removed = 0
local i = 0
local a = 1
while a <= #ARGV do
  i = i + 1
  local tenant, k = ARGV[a], tonumber(ARGV[a + 1])
  local pendingKey = KEYS[4 + i]
  for j = a + 2, a + 1 + k do removed = removed + rcall('ZREM', pendingKey, ARGV[j]) end
  a = a + 2 + k
  if rcall('EXISTS', pendingKey) == 0 then
    rcall('ZREM', KEYS[1], tenant)
    rcall('ZREM', KEYS[2], tenant)
    rcall('HDEL', KEYS[3], tenant)
    rcall('HDEL', KEYS[4], tenant)
  end
end
return removed
