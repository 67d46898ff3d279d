--[[
  Fixed window: counts `cost` against the window's counter if it fits. The window opens with the
  first counted call and lasts `windowMs` (the counter's TTL, set in this same script).
  Refused calls are not counted (their increment is taken back in the same script).

  KEYS[1] counter (string)
  ARGV[1] limit
  ARGV[2] window length, ms
  ARGV[3] cost
  Returns {allowed (1|0), remaining, retryAfterMs, resetMs}; resetMs: until the window closes.
]]
--- @include "fixedWindowDecide"
return {fixedWindowDecide(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]))}
