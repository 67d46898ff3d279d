#!lua flags=allow-cross-slot-keys
--[[
  Sliding window counter for many calls in one atomic call on one Redis Cluster master: the decisions of
  slidingWindowBatch, for keys in different slots of that master (the allow-cross-slot-keys flag,
  Redis 7). The keys come as arguments (nodeBatchKeys); the first is also KEYS[1], which routes the
  call to its master. A key this master does not serve (the client's slot table was out of date)
  gets the error entry "... non local key ..." and is left unchanged, for the caller to decide it
  again on its own; the other decisions stand.

  KEYS[1] the first decision's key
  ARGV[1] limit (< 2^26)
  ARGV[2] window (bucket) length, ms
  ARGV[3] n, the number of decisions
  ARGV[3 + i] key of decision i, in order (i = 1..n)
  ARGV[3 + n + i] cost of decision i
  Returns, flattened, {allowed (1|0), remaining, retryAfterMs, resetMs} per decision, or
  {-1, error message, 0, 0} for a key the decision could not use.
]]
--- @include "slidingWindowCounter"
--- @include "slidingWindowDecide"
--- @include "decideEach"
--- @include "nodeBatchKeys"
local keys, costAt = nodeBatchKeys()
return decideEach(slidingWindowDecide, tonumber(ARGV[1]), tonumber(ARGV[2]), keys, costAt)
