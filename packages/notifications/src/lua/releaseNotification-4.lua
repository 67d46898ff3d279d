--[[
  Gives a claimed dedupe key back after its enqueue failed, so the caller can try again at once.
  Only while the key still holds this caller's claim; and if the job is in the queue after all (the
  add reached Redis but its reply was lost), the claim is kept and marked as enqueued instead.

  KEYS[1]  the dedupe key
  KEYS[2]  the BullMQ job hash of the claimed job
  KEYS[3]  the status hash of the claimed job (claims write none; an earlier version's "queued"
           status is deleted with the key)
  KEYS[4]  the fair backlog's jobs hash of the claimed job's queue (a job pending there is in the
           queue; never written for a plain queue)
  ARGV[1]  the caller's claim value, "<staleAtMs>.<jobId without \"notify-\">"
  ARGV[2]  the claimed job id
  ARGV[3]  on a Redis Cluster (keys in different slots, only KEYS[1] passed): "queued" when the
           caller found the job in the queue (BullMQ or the fair backlog), "absent" when not; empty
           otherwise

  Returns
    1  released (the key, and an earlier version's "queued" status of the job, are deleted)
    2  the job is in the queue: the key now says "job.<jobId>"
    0  the key holds another value (or none); nothing was changed
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local split = ARGV[3] == 'queued' or ARGV[3] == 'absent'
if (split and ARGV[3] == 'queued') or (not split and (redis.call('EXISTS', KEYS[2]) == 1
  or redis.call('HEXISTS', KEYS[4], ARGV[2]) == 1)) then
  redis.call('SET', KEYS[1], 'job.' .. ARGV[2], 'KEEPTTL')
  return 2
end
redis.call('DEL', KEYS[1])
if not split and redis.call('HGET', KEYS[3], 'state') == 'queued' then
  redis.call('DEL', KEYS[3])
end
return 1
