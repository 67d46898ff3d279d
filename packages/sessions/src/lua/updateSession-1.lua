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
local ttl = tonumber(ARGV[3])
local expiresAt
local renew = 0
if ttl > 0 then
  local horizon = tonumber(fields[2]) or now
  expiresAt = math.min(now + ttl, horizon)
  if now + ttl > horizon then renew = 1 end
  if expiresAt <= now then expiresAt = now + 1 end
  redis.call('PEXPIRE', KEYS[1], expiresAt - now)
else
  expiresAt = now + redis.call('PTTL', KEYS[1])
end
return {version, expiresAt, renew}
