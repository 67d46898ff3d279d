--[[
  Sliding window counter: two fixed buckets of `window` ms, the previous one weighted by the part
  of it still inside the sliding window: used = prev * (window - elapsed) / window + cur. O(1)
  state: one integer per key, prev * 2^26 + cur. The current bucket opens with the first counted
  call (as a fixed window's does) and the key expires at the end of the bucket after it, so its
  PTTL tells where in the bucket "now" is: elapsed = 2 * window - PTTL (no TIME call needed).
  Refused calls are not counted.

  KEYS[1] counter (string: prev * 2^26 + cur)
  ARGV[1] limit (< 2^26)
  ARGV[2] window (bucket) length, ms
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}; resetMs: until the estimate is 0.
]]
--- @include "slidingWindowCounter"
--- @include "slidingWindowDecide"
return {slidingWindowDecide(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))}
