--[[
  Confirms a claimed dedupe key once its job is in the queue: stores the job id and raises the TTL
  from the pending time to the full dedupe window.

  KEYS[1]  the dedupe key
  ARGV[1]  the caller's claim token
  ARGV[2]  the value to store, "job.<jobId>"
  ARGV[3]  the dedupe window in milliseconds

  Returns
    1  the key still held our token and is now confirmed
    2  the key had expired (the enqueue outlasted the pending TTL); it is set again, since the job
       is in the queue
    0  another caller holds the key now; it is left alone (BullMQ's job id and deduplication id
       refuse its twin job)
]]
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
if value == false then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 2
end
return 0
