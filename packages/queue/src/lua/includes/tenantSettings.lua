--[[
  A tenant's effective settings on a fair queue: the code's, as stored by the producer in the cfg
  hash ("weight|maxActive|rateMax|rateDurationMs|maxPending"), with the tenant's runtime controls
  from the ctl hash applied while they have not expired. The ctl value is JSON:
    { "pause": { "atMs", "by", "untilMs"? },
      "limits": { "values": { "weight"?, "maxActive"?, "rateMax"?, "rateDurationMs"?, "maxPending"? },
                  "atMs", "by", "untilMs"? } }
  (no untilMs: until resumed / reset).

  tenantCtl(ctlKey, tenant)          the decoded ctl value, or nil
  tenantSettings(cfg, ctl, now)      { weight, maxActive, rateMax, rateDur, maxPending, pausedUntil }
                                     pausedUntil: nil (not paused), -1 (until resumed) or ms
]]
local function tenantCtl(ctlKey, tenant)
  local raw = redis.call('HGET', ctlKey, tenant)
  if not raw then return nil end
  local ok, value = pcall(cjson.decode, raw)
  if ok and type(value) == 'table' then return value end
  return nil
end

local function tenantSettings(cfg, ctl, now)
  local f = {}
  for part in string.gmatch((cfg or '') .. '|', '([^|]*)|') do f[#f + 1] = part end
  local s = {
    weight = tonumber(f[1]) or 1,
    maxActive = tonumber(f[2]) or 0,
    rateMax = tonumber(f[3]) or 0,
    rateDur = tonumber(f[4]) or 0,
    maxPending = tonumber(f[5]) or 0,
    pausedUntil = nil,
  }
  if ctl then
    local l = ctl.limits
    if type(l) == 'table' and type(l.values) == 'table' and (type(l.untilMs) ~= 'number' or l.untilMs > now) then
      local v = l.values
      if type(v.weight) == 'number' then s.weight = v.weight end
      if type(v.maxActive) == 'number' then s.maxActive = v.maxActive end
      if type(v.rateMax) == 'number' then
        s.rateMax = v.rateMax
        s.rateDur = tonumber(v.rateDurationMs) or 0
      end
      if type(v.maxPending) == 'number' then s.maxPending = v.maxPending end
    end
    local p = ctl.pause
    if type(p) == 'table' then
      if type(p.untilMs) ~= 'number' then
        s.pausedUntil = -1
      elseif p.untilMs > now then
        s.pausedUntil = p.untilMs
      end
    end
  end
  return s
end
