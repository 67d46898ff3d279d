--[[
  Acquires a lock and issues its fencing token in one step.

  KEYS[1]  lock key; its value is the owner token
  KEYS[2]  fence counter key, in the same hash slot as KEYS[1]
  ARGV[1]  owner token (random, unique per acquisition)
  ARGV[2]  lock TTL in ms
  ARGV[3]  fence counter TTL in ms, refreshed on every acquisition

  Returns
    >= 1   acquired: the fencing token
    <= -1  held by someone else: -1 - (the holder's remaining PTTL in ms, 0 if it has none)
]]
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  local fence = redis.call('INCR', KEYS[2])
  if fence == 1 then
    -- A new counter (first use, or the old one expired or was lost) starts at the server clock in
    -- microseconds, so tokens keep growing across the gap: no key is acquired twice per microsecond.
    local now = redis.call('TIME')
    fence = tonumber(now[1]) * 1000000 + tonumber(now[2])
    redis.call('SET', KEYS[2], string.format('%.0f', fence), 'PX', ARGV[3])
  else
    redis.call('PEXPIRE', KEYS[2], ARGV[3])
  end
  return fence
end
local pttl = redis.call('PTTL', KEYS[1])
if pttl < 0 then pttl = 0 end
return -1 - pttl
