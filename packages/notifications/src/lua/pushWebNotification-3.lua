--[[
  Stores one in-app notification for a user: newest first in a bounded list, marked unread, with
  the user's keys expiring after the TTL, and publishes it for live delivery. A notification whose
  id is already stored (a retry after a lost answer) is not stored or published again.

  KEYS[1]  the user's list of notifications (JSON, newest first)
  KEYS[2]  the user's set of unread notification ids
  KEYS[3]  the user's set of stored notification ids
  ARGV[1]  notification id
  ARGV[2]  the notification as JSON (with an "id" field equal to ARGV[1])
  ARGV[3]  most notifications kept per user (older ones are dropped)
  ARGV[4]  TTL of the user's keys, ms (renewed by every new notification)
  ARGV[5]  pub/sub channel to publish the notification on

  Returns
    1  stored and published
    0  already stored (nothing changed)
]]
if redis.call('SISMEMBER', KEYS[3], ARGV[1]) == 1 then
  return 0
end
redis.call('LPUSH', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
local max = tonumber(ARGV[3])
while redis.call('LLEN', KEYS[1]) > max do
  local dropped = redis.call('RPOP', KEYS[1])
  local ok, item = pcall(cjson.decode, dropped)
  if ok and type(item) == 'table' and item.id then
    redis.call('SREM', KEYS[2], item.id)
    redis.call('SREM', KEYS[3], item.id)
  end
end
for i = 1, 3 do
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end
redis.call('PUBLISH', ARGV[5], ARGV[2])
return 1
