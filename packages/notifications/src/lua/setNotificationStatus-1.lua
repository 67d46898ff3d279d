--[[
  Writes a notification's delivery status: replaces the state and its details, keeping the TTL the
  status was created with. The first write (the worker's first touch of the job: notifyOnce writes
  none) creates it with the TTL given, the dedupe window the job carries.

  KEYS[1]  the status hash, notify-status:{jobId}
  ARGV[1]  TTL in ms, used when the hash is created
  ARGV[2..] field, value, field, value, … (always including "state")

  Returns
    1  written
]]
--- @include "nowMs"
local now = nowMs()
local exists = redis.call('EXISTS', KEYS[1]) == 1
if exists then
  redis.call('HDEL', KEYS[1], 'reason', 'retryAt')
end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[1], 'updatedAt', now)
if not exists then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 1
