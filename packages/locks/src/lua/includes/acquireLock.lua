--[[
  acquireLock(keys, argv): the body of acquireLock-2.lua as a function (keys = {lock key, fence
  counter key}, argv = {owner token, lock TTL ms, fence TTL ms or '0'}); the same reply. Shared by
  the single script and its batch twin. Include nowUs and issueFence before it.
]]
local function acquireLock(keys, argv)
  if redis.call('SET', keys[1], argv[1], 'NX', 'PX', argv[2]) then
    if argv[3] == '0' then return 1 end
    return issueFence(keys[2], tonumber(argv[2]), tonumber(argv[3]))
  end
  local pttl = redis.call('PTTL', keys[1])
  if pttl < 0 then pttl = 0 end
  return -1 - pttl
end
