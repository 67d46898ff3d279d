--[[
  Token bucket as GCRA: the key holds the theoretical arrival time (TAT, µs): the Redis time at
  which the bucket is full again. A bucket holds `burst` tokens and gains one per `interval`.
  Taking `cost` tokens moves TAT by cost * interval; allowed when the new TAT is at most
  burst * interval ahead of now. Refused calls take nothing.

  KEYS[1] TAT (string)
  ARGV[1] interval between tokens, µs (may be fractional)
  ARGV[2] burst (bucket capacity)
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}; resetMs: until the bucket is full.
]]
--- @include "nowUs"
--- @include "tokenBucketDecide"
return {tokenBucketDecide(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))}
