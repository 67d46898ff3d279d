--[[
  Adds one item to the pending batch of a digest (per tenant, type and recipient), once per item
  key, and notes when the batch's first and latest items arrived.

  KEYS[1]  the digest's hash: "batch" (number of the pending batch), "firstAt", "lastAt",
           "i:<itemKey>" (pending items, JSON), "t<batch>:<itemKey>" (items of a batch being sent)
  ARGV[1]  item key
  ARGV[2]  the item as JSON
  ARGV[3]  TTL of the hash, ms (renewed on every item)

  Returns
    { added, pendingCount, batch, firstAtMs, nowMs }
    added is 1 for a new item, 0 when the item key is already pending (nothing changed)
]]
--- @include "nowMs"
local now = nowMs()
local added = redis.call('HSETNX', KEYS[1], 'i:' .. ARGV[1], ARGV[2])
local batch = tonumber(redis.call('HGET', KEYS[1], 'batch') or '0')
if batch == 0 then
  batch = 1
  redis.call('HSET', KEYS[1], 'batch', 1)
end
local firstAt = tonumber(redis.call('HGET', KEYS[1], 'firstAt') or '0')
if added == 1 then
  if firstAt == 0 then
    firstAt = now
    redis.call('HSET', KEYS[1], 'firstAt', now)
  end
  redis.call('HSET', KEYS[1], 'lastAt', now)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local pending = 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, 2) == 'i:' then
    pending = pending + 1
  end
end
return { added, pending, batch, firstAt, now }
