--[[
  eachCall(fn) -> the flattened replies of fn for every call of a batch script (see
  createScriptBatcher): fn(keys, argv) runs once per call, in order, with that call's keys and
  arguments as tables. The batch script's KEYS hold every call's keys in turn; ARGV[1] is the
  number of keys per call, ARGV[2] the number of arguments per call, and the arguments of every
  call follow in turn. Replies {1, reply} per call, or {0, error message} for a call whose Redis
  command failed (its earlier writes stand, as in a single script); the other calls stand.
  fn must not return nil.
]]
local function eachCall(fn)
  local nKeys = tonumber(ARGV[1])
  local nArgs = tonumber(ARGV[2])
  local calls = #KEYS / nKeys
  local out = {}
  for i = 0, calls - 1 do
    local keys, argv = {}, {}
    for j = 1, nKeys do keys[j] = KEYS[i * nKeys + j] end
    for j = 1, nArgs do argv[j] = ARGV[2 + i * nArgs + j] end
    local ok, reply = pcall(fn, keys, argv)
    if ok then
      out[2 * i + 1], out[2 * i + 2] = 1, reply
    else
      if type(reply) == 'table' then reply = reply.err end
      out[2 * i + 1], out[2 * i + 2] = 0, tostring(reply)
    end
  end
  return out
end
