--[[
  claimNotification for many calls in one atomic call (see createScriptBatcher, replyWidth 3): each
  call in turn exactly as claimNotification-4.lua, all at one Redis time (one TIME per batch: Redis,
  too, checks key expiry at the script's start time throughout a script). A dedupe key named by two calls: the
  second sees the first's claim and answers as a twin. No table per call: the shared function
  takes flat arguments and returns the reply's three elements as values.

  KEYS     per call, in turn: dedupe key, BullMQ job hash, status hash, fair backlog jobs hash
  ARGV[1]  keys per call (4)
  ARGV[2]  arguments per call (6)
  ARGV[2 + 6 * (i - 1) + 1 .. 6]  call i's arguments, as claimNotification-4.lua's ARGV

  Returns, flattened, per call: 1, code, jobId, nowMs (claimNotification-4.lua's reply), or 0,
  error message, '', 0 for a call whose Redis command failed (its earlier writes stand, as in a
  single script; the other calls stand)
]]
--- @include "nowMs"
--- @include "claimNotification"
local now = nowMs()
local nKeys = tonumber(ARGV[1])
local nArgs = tonumber(ARGV[2])
local out = {}
local n = 0
for k = 0, #KEYS - nKeys, nKeys do
  local a = 2 + (k / nKeys) * nArgs
  local ok, code, jobId, at = pcall(claimNotification, now, KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4],
    tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), ARGV[a + 4], ARGV[a + 5], ARGV[a + 6] == '1')
  if ok then
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = 1, code, jobId, at
  else
    if type(code) == 'table' then code = code.err end
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = 0, tostring(code), '', 0
  end
  n = n + 4
end
return out
