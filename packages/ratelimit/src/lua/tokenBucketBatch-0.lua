--[[
  Token bucket (GCRA) for many calls in one atomic call: the decision of the single-call script for each
  key in turn (a key named twice sees the earlier decision). A key holding another type gets
  an error entry and is left unchanged; the other decisions stand.

  KEYS    one key per decision, in order (any number; on a cluster all in one slot)
  ARGV[1] interval between tokens, µs (may be fractional)
  ARGV[2] burst (bucket capacity)
  ARGV[2 + i] cost of decision i
  Returns, flattened, {allowed (1|0), remaining, retryAfterMs, resetMs} per decision, or
  {-1, error message, 0, 0} for a key the decision could not use.
]]
--- @include "nowUs"
--- @include "tokenBucketDecide"
--- @include "decideEach"
return decideEach(tokenBucketDecide, tonumber(ARGV[1]), tonumber(ARGV[2]), KEYS, 2)
