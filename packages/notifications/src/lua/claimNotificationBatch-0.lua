--[[
  claimNotification for many calls in one atomic call (see createScriptBatcher, replyWidth 3,
  shared: key 4, arguments 1, 2 and 6): each call in turn exactly as claimNotification-4.lua, all
  at one Redis time (one TIME per batch: Redis, too, checks key expiry at the script's start time
  throughout a script). A dedupe key named by two calls: the second sees the first's claim and
  answers as a twin. No table per call: the shared function takes flat arguments and returns the
  reply's three elements as values. What every call of a batch has in common (the fair backlog's
  jobs hash, the window, the pending time, the cluster flag: the batcher groups calls by them) is
  sent and read once per batch.

  KEYS     the fair backlog's jobs hash (claimNotification-4.lua's KEYS[4], the same for every
           call), then per call, in turn: dedupe key, BullMQ job hash, status hash
  ARGV[1]  keys per call (3)
  ARGV[2]  arguments per call (3)
  ARGV[3]  shared keys (1)
  ARGV[4]  shared arguments (3)
  ARGV[5]  dedupe window in milliseconds (claimNotification-4.lua's ARGV[1])
  ARGV[6]  pending time in milliseconds (its ARGV[2])
  ARGV[7]  "1" on a Redis Cluster (its ARGV[6]; a batch is never sent to one)
  ARGV[7 + 3 * (i - 1) + 1 .. 3]  call i's bucket, job id and mode (its ARGV[3], ARGV[4], ARGV[5])

  Returns, flattened, per call: 1, code, jobId, nowMs (claimNotification-4.lua's reply), or 0,
  error message, '', 0 for a call whose Redis command failed (its earlier writes stand, as in a
  single script; the other calls stand)
]]
--- @include "nowMs"
--- @include "claimNotification"
local now = nowMs()
local nKeys = tonumber(ARGV[1])
local nArgs = tonumber(ARGV[2])
local nShared = tonumber(ARGV[3])
local fairJobsKey = KEYS[nShared]
local window, pendingMs, split = tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7] == '1'
local out = {}
local n = 0
local a = 4 + tonumber(ARGV[4])
for k = nShared, #KEYS - nKeys, nKeys do
  local ok, code, jobId, at = pcall(claimNotification, now, KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], fairJobsKey,
    window, pendingMs, tonumber(ARGV[a + 1]), ARGV[a + 2], ARGV[a + 3], split)
  if ok then
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = 1, code, jobId, at
  else
    if type(code) == 'table' then code = code.err end
    out[n + 1], out[n + 2], out[n + 3], out[n + 4] = 0, tostring(code), '', 0
  end
  n = n + 4
  a = a + nArgs
end
return out
