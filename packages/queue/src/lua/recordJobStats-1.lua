--[[
  Adds job events of one time slot of one queue to the slot's hash (fields "<tenant>|<series>"),
  and makes the hash expire at the end of the retention, so the stats of a queue never outgrow the
  tenants that were active within it.

  KEYS[1]  stats hash of the slot
  ARGV[1]  expiry of the hash, ms since the epoch
  ARGV[2], ARGV[3], ...  field, increment (integer), as many pairs as needed

  Returns the number of fields incremented.
]]
local n = 0
for i = 2, #ARGV - 1, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  n = n + 1
end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return n
