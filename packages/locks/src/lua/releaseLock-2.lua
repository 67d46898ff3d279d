--[[
  Releases a lock if the caller still owns it. Either hands it straight to a waiter of the
  releasing process (one round trip for release plus acquire), or deletes it and tells waiters
  on the release channel.

  KEYS[1]  lock key
  KEYS[2]  fence counter key, in the same hash slot as KEYS[1]
  ARGV[1]  owner token
  ARGV[2]  release channel (waiters subscribe to it to wake at once instead of polling)
  ARGV[3]  optional: the next owner's token (hand-over)
  ARGV[4]  with ARGV[3]: the next owner's lock TTL in ms
  ARGV[5]  with ARGV[3]: fence counter TTL in ms

  Returns
    1      released (deleted, release announced)
    <= -1  handed over: minus the next owner's fencing token
    0      not the owner (expired or taken over); nothing was changed
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[3] then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  local fence = redis.call('INCR', KEYS[2])
  if fence == 1 then
    local now = redis.call('TIME')
    fence = tonumber(now[1]) * 1000000 + tonumber(now[2])
    redis.call('SET', KEYS[2], string.format('%.0f', fence), 'PX', ARGV[5])
  else
    redis.call('PEXPIRE', KEYS[2], ARGV[5])
  end
  return -fence
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], '1')
return 1
