--[[
  Sets a new TTL on a lock if the caller still owns it.

  KEYS[1]  lock key
  ARGV[1]  owner token
  ARGV[2]  new TTL in ms, counted from now

  Returns
    1  extended
    0  not the owner (expired or taken over); nothing was changed
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
