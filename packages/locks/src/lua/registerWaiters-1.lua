--[[
  Registers (or keeps registered) a process that has waiters for a lock, so that releases of the
  lock announce themselves: a release publishes only while this set exists. Members whose time
  ran out (a process that died while waiting) are dropped here; the key lives as long as its
  latest member, so it never outlives the waits it serves by more than their slack.

  KEYS[1]  waiters key: sorted set, member = a waiting process's id, score = until when (Redis
           clock, ms) that process may wait
  ARGV[1]  the process's id (one per client and process)
  ARGV[2]  how long from now to stay registered, in ms

  Returns
    1  registered
]]
--- @include "nowMs"
local now = nowMs()
local ms = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], string.format('%.0f', now + ms), ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then redis.call('PEXPIRE', KEYS[1], ms) end
return 1
