--[[
  Changes one tenant's runtime controls on a fair queue and appends the change to the audit
  stream, atomically. A blocked tenant is made eligible again so the next dispatch step applies the
  new controls at once (it is blocked again there if it must be).

  KEYS[1]  ctl       hash    tenant -> controls JSON (see the tenantSettings include)
  KEYS[2]  ctlver    string  counter bumped on every change (workers re-read ctl when it moves)
  KEYS[3]  blocked   zset    tenant -> ms when eligible again
  KEYS[4]  ready     zset    tenant -> virtual pass
  KEYS[5]  pass      hash    tenant -> saved pass; ':vt' = virtual time
  KEYS[6]  audit     stream  one entry per change

  ARGV[1]  tenantId
  ARGV[2]  action: pause | resume | set-limits | reset
  ARGV[3]  ms the pause or override lasts (0 = until resumed / reset)
  ARGV[4]  set-limits: JSON of the override values
  ARGV[5]  who made the change
  ARGV[6]  audit stream cap (XADD MAXLEN ~)
  ARGV[7]  audit stream TTL ms (from the last change)

  Returns { previous JSON, current JSON, now ms }: the part of the controls the action changed
  ('' when there was none), before and after.
]]
--- @include "nowMs"
--- @include "tenantSettings"
--- @include "unblockTenant"
local rcall = redis.call
local now = nowMs()
local tenant = ARGV[1]
local action = ARGV[2]
local forMs = tonumber(ARGV[3])
local ctl = tenantCtl(KEYS[1], tenant) or {}
-- Expired parts are gone.
if type(ctl.pause) == 'table' and type(ctl.pause.untilMs) == 'number' and ctl.pause.untilMs <= now then ctl.pause = nil end
if type(ctl.limits) == 'table' and type(ctl.limits.untilMs) == 'number' and ctl.limits.untilMs <= now then ctl.limits = nil end

local part = 'pause'
if action == 'set-limits' or action == 'reset' then part = 'limits' end
local previous = ctl[part]
local current = nil
if action == 'pause' or action == 'set-limits' then
  current = { atMs = now, by = ARGV[5] }
  if forMs > 0 then current.untilMs = now + forMs end
  if action == 'set-limits' then current.values = cjson.decode(ARGV[4]) end
end
ctl[part] = current

if ctl.pause == nil and ctl.limits == nil then
  rcall('HDEL', KEYS[1], tenant)
else
  rcall('HSET', KEYS[1], tenant, cjson.encode(ctl))
end
rcall('INCR', KEYS[2])
unblockTenant(KEYS[3], KEYS[4], KEYS[5], tenant)

local function encode(value)
  if value == nil then return '' end
  return cjson.encode(value)
end
rcall('XADD', KEYS[6], 'MAXLEN', '~', ARGV[6], '*', 'tenant', tenant, 'action', action, 'by', ARGV[5],
  'atMs', string.format('%.0f', now), 'value', encode(current), 'previous', encode(previous))
rcall('PEXPIRE', KEYS[6], ARGV[7])
return { encode(previous), encode(current), string.format('%.0f', now) }
