--[[
  Releases a lock if the caller still owns it, and tells waiters on the release channel.

  KEYS[1]  lock key
  ARGV[1]  owner token
  ARGV[2]  release channel (waiters subscribe to it to wake at once instead of polling)

  Returns
    1  released
    0  not the owner (expired or taken over); nothing was changed
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], '1')
  return 1
end
return 0
