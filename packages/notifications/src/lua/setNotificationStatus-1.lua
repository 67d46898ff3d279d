--[[
  Writes a notification's delivery status. "init" creates it only when there is none (notifyOnce,
  before the job is queued, so it never overwrites what a worker already wrote); "update" replaces
  the state and its details, keeping the TTL the status was created with (the dedupe window).

  KEYS[1]  the status hash, notify-status:{jobId}
  ARGV[1]  "init" or "update"
  ARGV[2]  TTL in ms, used when the hash is created
  ARGV[3..] field, value, field, value, … (always including "state")

  Returns
    1  written
    0  "init" and a status existed already (nothing changed)
]]
--- @include "nowMs"
local now = nowMs()
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[1] == 'init' and exists then
  return 0
end
if exists then
  redis.call('HDEL', KEYS[1], 'reason', 'retryAt')
end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[1], 'updatedAt', now)
if not exists then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
