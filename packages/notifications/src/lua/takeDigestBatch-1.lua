--[[
  Takes a digest's pending items as batch ARGV[1] for sending, once the batch is due: no new item
  for the debounce window, or the first item waited maxWaitMs, or maxItems are pending. Taken items
  stay in the hash (as "t<batch>:<itemKey>") until the batch is sent, so a crashed sender loses
  none: taking the same batch again returns the same items. New items start the next batch.

  KEYS[1]  the digest's hash (see addDigestItem)
  ARGV[1]  the batch number to take
  ARGV[2]  debounce window, ms
  ARGV[3]  longest wait after the first item, ms
  ARGV[4]  most items per batch

  Returns
    { 1, json, json, … }  the batch's items (possibly none)
    { 0, waitMs }         not due yet: come back in waitMs
]]
--- @include "nowMs"
local now = nowMs()
local batch = tonumber(ARGV[1])
local current = tonumber(redis.call('HGET', KEYS[1], 'batch') or '0')
local taken = 't' .. batch .. ':'
local all = redis.call('HGETALL', KEYS[1])
if current == batch then
  local pending = {}
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'i:' then
      pending[#pending + 1] = i
    end
  end
  local firstAt = tonumber(redis.call('HGET', KEYS[1], 'firstAt') or '0')
  local lastAt = tonumber(redis.call('HGET', KEYS[1], 'lastAt') or '0')
  if #pending > 0 and #pending < tonumber(ARGV[4]) then
    local due = math.min(lastAt + tonumber(ARGV[2]), firstAt + tonumber(ARGV[3]))
    if now < due then
      return { 0, due - now }
    end
  end
  for _, i in ipairs(pending) do
    redis.call('HSET', KEYS[1], taken .. string.sub(all[i], 3), all[i + 1])
    redis.call('HDEL', KEYS[1], all[i])
  end
  redis.call('HDEL', KEYS[1], 'firstAt', 'lastAt')
  redis.call('HSET', KEYS[1], 'batch', batch + 1)
  all = redis.call('HGETALL', KEYS[1])
end
local out = { 1 }
for i = 1, #all, 2 do
  if string.sub(all[i], 1, #taken) == taken then
    out[#out + 1] = all[i + 1]
  end
end
return out
