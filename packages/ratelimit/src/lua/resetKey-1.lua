--[[
  Reset: deletes one limiter's key. A script rather than a plain DEL, so a reset sent before a
  fail-fast connection is first ready waits for it like every other limiter call.

  KEYS[1] the limiter's key (counter, log, bucket or lease set)
  Returns 1 if the key existed, else 0.
]]
return redis.call('DEL', KEYS[1])
