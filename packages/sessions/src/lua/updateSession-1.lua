--[[
  Compare-and-set: writes new data and version only if the session is at the expected version.
  Sliding sessions get their TTL again in the same step (up to the index horizon).

  KEYS[1] session hash (see putSession)
  ARGV[1] expected version
  ARGV[2] new data JSON
  ARGV[3] TTL, ms; 0 keeps the TTL as it is
  Returns {version, expiresAt (ms since the epoch), renewIndex} when written;
  {-1} when there is no session; {-2, current version} on a version conflict (nothing written).
]]
--- @include "nowMs"
--- @include "slideExpiry"
local fields = redis.call('HMGET', KEYS[1], 'v', 'x')
if not fields[1] then
  return {-1}
end
local version = tonumber(fields[1])
if version ~= tonumber(ARGV[1]) then
  return {-2, version}
end
version = version + 1
redis.call('HSET', KEYS[1], 'd', ARGV[2], 'v', version)
local now = nowMs()
local expiresAt, renew = slideExpiry(KEYS[1], tonumber(ARGV[3]), tonumber(fields[2]) or now, now)
return {version, expiresAt, renew}
