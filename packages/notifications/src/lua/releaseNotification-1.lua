--[[
  Releases a claimed dedupe key after its enqueue failed, so the caller can try again at once.
  Deletes the key only while it still holds the caller's claim token.

  KEYS[1]  the dedupe key
  ARGV[1]  the caller's claim token

  Returns
    1  released
    0  the key holds another value (or none); nothing was changed
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
