--[[
  Forgets the items of a digest batch once it was sent.

  KEYS[1]  the digest's hash (see addDigestItem)
  ARGV[1]  the batch number

  Returns
    the number of items removed
]]
local taken = 't' .. ARGV[1] .. ':'
local removed = 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  if string.sub(field, 1, #taken) == taken then
    redis.call('HDEL', KEYS[1], field)
    removed = removed + 1
  end
end
return removed
