--[[
  unblockTenant(blockedKey, readyKey, passKey, tenant)
    Makes a blocked tenant eligible now (its saved pass, no earlier than the virtual time). Returns
    1 when it was blocked, else 0.
]]
local function unblockTenant(blockedKey, readyKey, passKey, tenant)
  if not redis.call('ZSCORE', blockedKey, tenant) then return 0 end
  local vt = tonumber(redis.call('HGET', passKey, ':vt') or '0')
  local pass = tonumber(redis.call('HGET', passKey, tenant) or vt)
  if pass < vt then pass = vt end
  redis.call('ZREM', blockedKey, tenant)
  redis.call('HDEL', passKey, tenant)
  redis.call('ZADD', readyKey, pass, tenant)
  return 1
end
