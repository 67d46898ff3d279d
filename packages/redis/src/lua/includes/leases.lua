--[[
  Expiring leases: a sorted set, member = lease id, score = the lease's expiry in ms on the Redis
  clock (pass `now` from nowMs). A holder that dies stops refreshing, its lease expires and its
  slot frees with no clean-up job. The set always lives as long as its longest lease.

  leaseLive(key, now)              drops expired leases; returns how many are live
  leaseCount(key, now)             how many leases are live (read only)
  leaseWaitMs(key, now)            ms until the earliest live lease expires (0 when none)
  leasePut(key, id, ttl, now)      sets lease id to expire ttl ms from now (no limit checked)
  leaseTake(key, id, limit, ttl, now)
                                   takes one of `limit` slots: returns 1, live (taken) or
                                   -1 - leaseWaitMs, live (all slots taken)
  leaseRefresh(key, id, ttl, now)  1 when the live lease now expires ttl ms from now; 0 when it was
                                   not held (an expired one is removed)
  leaseRelease(key, id, now)       removes the lease: 1 when it was live, -1 when it had expired
                                   (its slot was free already), 0 when it was not held
]]
local function leaseLive(key, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  return redis.call('ZCARD', key)
end

local function leaseCount(key, now)
  return redis.call('ZCOUNT', key, '(' .. string.format('%.0f', now), '+inf')
end

local function leaseWaitMs(key, now)
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] == nil then return 0 end
  return math.max(tonumber(first[2]) - now, 0)
end

local function leasePut(key, id, ttl, now)
  redis.call('ZADD', key, string.format('%.0f', now + ttl), id)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', key, math.max(tonumber(last[2]) - now, 1))
end

local function leaseTake(key, id, limit, ttl, now)
  local live = leaseLive(key, now)
  if live < limit then
    leasePut(key, id, ttl, now)
    return 1, live + 1
  end
  return -1 - leaseWaitMs(key, now), live
end

local function leaseRefresh(key, id, ttl, now)
  local score = redis.call('ZSCORE', key, id)
  if not score then return 0 end
  if tonumber(score) <= now then
    redis.call('ZREM', key, id)
    return 0
  end
  leasePut(key, id, ttl, now)
  return 1
end

local function leaseRelease(key, id, now)
  local score = redis.call('ZSCORE', key, id)
  if not score then return 0 end
  redis.call('ZREM', key, id)
  if tonumber(score) <= now then return -1 end
  return 1
end
