--[[
  Sets a session's TTL again (up to the horizon of the user's index), after moving that horizon
  forward when the caller has just renewed the session's index entry.

  KEYS[1] session hash (see putSession)
  ARGV[1] TTL, ms
  ARGV[2] new index horizon, ms since the epoch; 0 for none
  ARGV[3] tenant id the new horizon is for
  ARGV[4] user id the new horizon is for (a horizon for another user is ignored)
  Returns {} when there is no session, else {expiresAt (ms since the epoch), renewIndex, tenant id,
  user id} (renewIndex as in readSession).
]]
--- @include "nowMs"
local fields = redis.call('HMGET', KEYS[1], 'x', 't', 'u')
if not fields[2] then
  return {}
end
local now = nowMs()
local horizon = tonumber(fields[1]) or now
local offered = tonumber(ARGV[2])
if offered > horizon and fields[2] == ARGV[3] and fields[3] == ARGV[4] then
  horizon = offered
  redis.call('HSET', KEYS[1], 'x', horizon)
end
local ttl = tonumber(ARGV[1])
local expiresAt = math.min(now + ttl, horizon)
local renew = 0
if now + ttl > horizon then renew = 1 end
if expiresAt <= now then expiresAt = now + 1 end
redis.call('PEXPIRE', KEYS[1], expiresAt - now)
return {expiresAt, renew, fields[2], fields[3]}
