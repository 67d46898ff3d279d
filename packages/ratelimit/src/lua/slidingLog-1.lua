--[[
  Sliding log: one member per counted unit, scored by its Redis time in µs. A call is
  allowed when the units counted in (now - window, now] plus `cost` fit in `limit`, so no
  window-length interval ever holds more than `limit` units. Refused calls are not counted.

  KEYS[1] log (sorted set)
  ARGV[1] limit
  ARGV[2] window length, ms
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}; resetMs: until the log is empty.
]]
--- @include "nowUs"
--- @include "slidingLogDecide"
return {slidingLogDecide(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))}
