--[[
  Takes the record of a job released holding its pool slots (written by the dispatch script): how
  long ago, by the Redis clock, it was released. Read once, at the job's first start.

  KEYS[1]  handout  hash  jobId -> ms it was released holding its pool slots

  ARGV[1]  jobId

  Returns the ms since its release, or -1 when it was released without pool slots.
]]
--- @include "nowMs"
local at = redis.call('HGET', KEYS[1], ARGV[1])
if not at then return -1 end
redis.call('HDEL', KEYS[1], ARGV[1])
return math.max(nowMs() - tonumber(at), 0)
