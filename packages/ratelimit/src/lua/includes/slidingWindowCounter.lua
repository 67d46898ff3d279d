--[[
  The sliding window counter's state, shared by slidingWindow and slidingWindowPeek.
  One integer per key, prev * 2^26 + cur; the key expires at the end of the bucket after the
  current one, so its PTTL tells where in the bucket "now" is: elapsed = 2 * window - PTTL.

  slidingWindowState(key, window) -> prev, cur, ttl, found (found: 0 when the key holds nothing)
  slidingWindowRetry(limit, cost, window, elapsed, prev, cur) -> ms until `cost` fits again
]]
local SLIDING_WINDOW_M = 67108864

local function slidingWindowState(key, window)
  local value = tonumber(redis.call('GET', key))
  if not value then return 0, 0, 2 * window, 0 end
  local ttl = redis.call('PTTL', key)
  if ttl <= 0 then return 0, 0, 2 * window, 0 end
  local prev = math.floor(value / SLIDING_WINDOW_M)
  local cur = value % SLIDING_WINDOW_M
  -- The current bucket has ended: it becomes the previous one.
  if ttl <= window then prev, cur, ttl = cur, 0, ttl + window end
  return prev, cur, ttl, 1
end

local function slidingWindowRetry(limit, cost, window, elapsed, prev, cur)
  -- The estimate only falls with time; find when cost fits again.
  local retry
  if cur + cost <= limit then
    retry = (window - elapsed) - (limit - cur - cost) * window / prev
  else
    retry = (2 * window - elapsed) - (limit - cost) * window / cur
  end
  return math.max(1, math.ceil(retry))
end
