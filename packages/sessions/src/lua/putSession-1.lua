--[[
  Creates a session, or replaces one (a new version), with its TTL in the same step. The TTL never
  reaches past the horizon up to which the user's index is known to hold the session.

  KEYS[1] session hash: d (data JSON), v (version), t (tenant id), u (user id), x (index horizon)
  ARGV[1] data JSON
  ARGV[2] tenant id
  ARGV[3] user id
  ARGV[4] TTL, ms
  ARGV[5] index horizon, ms since the epoch (Redis time)
  ARGV[6] 1: create only (fail if the session exists), 0: create or replace
  Returns {version, expiresAt (ms since the epoch)}, or {0, 0} when ARGV[6] is 1 and the session exists.
]]
--- @include "nowMs"
local exists = redis.call('EXISTS', KEYS[1]) == 1
if exists and ARGV[6] == '1' then
  return {0, 0}
end
local version = 1
if exists then
  version = (tonumber(redis.call('HGET', KEYS[1], 'v')) or 0) + 1
end
local now = nowMs()
local horizon = tonumber(ARGV[5])
local expiresAt = math.min(now + tonumber(ARGV[4]), horizon)
if expiresAt <= now then expiresAt = now + 1 end
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'v', version, 't', ARGV[2], 'u', ARGV[3], 'x', horizon)
redis.call('PEXPIRE', KEYS[1], expiresAt - now)
return {version, expiresAt}
