--[[
  slideExpiry(key, ttl, horizon, now): with ttl > 0, sets the session's expiry to now + ttl but
  never past `horizon` (how long its user index is known to hold it); returns expiresAt and 1 when
  the index must be extended (renew), else 0. With ttl 0 the expiry is left as it is.
]]
local function slideExpiry(key, ttl, horizon, now)
  if ttl <= 0 then return now + redis.call('PTTL', key), 0 end
  local renew = 0
  if now + ttl > horizon then renew = 1 end
  local expiresAt = math.min(now + ttl, horizon)
  if expiresAt <= now then expiresAt = now + 1 end
  redis.call('PEXPIRE', key, expiresAt - now)
  return expiresAt, renew
end
