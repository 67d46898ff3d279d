--[[
  Reads a session; with a TTL given (sliding sessions), sets it again in the same step, up to the
  horizon of the user's index.

  KEYS[1] session hash (see putSession)
  ARGV[1] TTL, ms; 0 leaves the TTL as it is
  Returns {} when there is no session, else {data JSON, version, tenant id, user id,
  expiresAt (ms since the epoch), renewIndex}; renewIndex is 1 when the TTL was cut short by the
  horizon (the caller renews the index entry, then touches the session).
]]
--- @include "nowMs"
--- @include "slideExpiry"
local fields = redis.call('HMGET', KEYS[1], 'd', 'v', 't', 'u', 'x')
if not fields[1] then
  return {}
end
local now = nowMs()
local expiresAt, renew = slideExpiry(KEYS[1], tonumber(ARGV[1]), tonumber(fields[5]) or now, now)
return {fields[1], tonumber(fields[2]), fields[3], fields[4], expiresAt, renew}
