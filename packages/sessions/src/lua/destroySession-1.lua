--[[
  Deletes a session and says whose it was (so the caller can drop it from that user's index).

  KEYS[1] session hash (see putSession)
  ARGV[1] tenant id, or '' for any
  ARGV[2] user id, or '' for any (with ARGV[1]: delete only a session of that user)
  Returns {tenant id, user id} of the deleted session, or {} when none was deleted.
]]
local fields = redis.call('HMGET', KEYS[1], 't', 'u')
if not fields[1] then
  return {}
end
if ARGV[1] ~= '' and (fields[1] ~= ARGV[1] or fields[2] ~= ARGV[2]) then
  return {}
end
redis.call('DEL', KEYS[1])
return {fields[1], fields[2]}
