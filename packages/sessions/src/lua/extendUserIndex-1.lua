--[[
  Adds a session to its user's index, or moves its entry forward, and makes the index live at
  least until the entry's horizon. Entries whose horizon has passed are dropped (their sessions
  have expired: a session never outlives the horizon it stores). Time is Redis time.

  KEYS[1] user index: sorted set of session ids, scored by horizon (ms since the epoch)
  ARGV[1] session id
  ARGV[2] horizon from now, ms
  Returns the horizon, ms since the epoch.
]]
--- @include "nowMs"
local now = nowMs()
local ahead = tonumber(ARGV[2])
local horizon = now + ahead
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1)
-- GT: an entry already further ahead (another store with a longer TTL) keeps its score.
redis.call('ZADD', KEYS[1], 'GT', horizon, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ahead then
  redis.call('PEXPIRE', KEYS[1], ahead)
end
return horizon
