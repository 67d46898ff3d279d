--[[
  releaseLock(keys, argv): the body of releaseLock-2.lua as a function (keys = {lock key, waiters
  key}, argv = {owner token, release channel}); the same reply. Shared by the single script and its
  batch twin.
]]
local function releaseLock(keys, argv)
  if redis.call('GET', keys[1]) ~= argv[1] then return 0 end
  redis.call('DEL', keys[1])
  if redis.call('EXISTS', keys[2]) == 1 then redis.call('PUBLISH', argv[2], '1') end
  return 1
end
