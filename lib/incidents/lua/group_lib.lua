-- Alertmanager groups (inlined into apply.lua with --#include): one incident per group.
-- A group signal carries its alerts as members {id, starts, ends, status, severity, name}.
-- They are merged into the hash <prefix>group:<key> (fingerprint -> {s, e, st, sev, n}),
-- ordered by the alert's own startsAt, never by arrival: one firing of an alert is
-- (id, startsAt); once resolved it stays resolved (a late duplicate firing is ignored,
-- and a resolve that arrived before its firing wins over it); a later startsAt is a new
-- firing. A notification saying the whole group resolved (`ended`) resolves the alerts of
-- that same Alertmanager group (`origin`) it no longer lists that started before its
-- latest endsAt (a silenced alert is not listed). The signal then says what the whole group says: firing at its most urgent
-- firing alert's severity (tiers upgrade the one incident), or resolved when none fires.
local GROUP_RANK = {P0 = 0, P1 = 1, P2 = 2, P3 = 3}
local GROUP_TTL = 7 * 86400
local GROUP_FORGET = 86400 -- resolved members older than this are dropped (bounded state)
local GROUP_LISTED = 10

local function group_take(old, m)
  if not old then return true end
  if m.starts > old.s then return true end -- a new firing of the alert
  if m.starts < old.s then return false end -- an older firing: stale news
  return old.st ~= "resolved" -- same firing: resolved is final
end

local function group_merge(sig)
  local key = k("group", sig.key)
  local listed = {}
  for _, m in ipairs(sig.group.members) do
    listed[m.id] = true
    local raw = redis.call("HGET", key, m.id)
    local old = raw and cjson.decode(raw)
    if group_take(old, m) then
      redis.call("HSET", key, m.id, cjson.encode({
        s = m.starts, e = m.ends, st = m.status, sev = m.severity, n = m.name, g = sig.group.origin
      }))
    end
  end
  local ended = tonumber(sig.group.ended)
  local flat = redis.call("HGETALL", key)
  local firing, resolved = {}, 0
  for i = 1, #flat, 2 do
    local a = cjson.decode(flat[i + 1])
    if ended and a.st == "firing" and a.g == sig.group.origin and not listed[flat[i]]
        and tonumber(a.s) <= ended then
      a.st, a.e = "resolved", ended -- the group resolved without it (silenced, inhibited)
      redis.call("HSET", key, flat[i], cjson.encode(a))
    end
    if a.st == "firing" then
      table.insert(firing, a)
    else
      resolved = resolved + 1
      local ended = tonumber(a.e) or tonumber(a.s) or 0
      if ended < NOW - GROUP_FORGET then redis.call("HDEL", key, flat[i]) end
    end
  end
  redis.call("EXPIRE", key, GROUP_TTL)
  table.sort(firing, function(x, y)
    if x.sev ~= y.sev then return GROUP_RANK[x.sev] < GROUP_RANK[y.sev] end
    return tostring(x.n) < tostring(y.n)
  end)
  return firing, resolved
end

-- The group signal as the merged state says it: status, severity, its sends, the alert list.
local function group_signal(sig)
  local firing, resolved = group_merge(sig)
  local lines = {}
  if #firing > 0 then
    sig.status = "firing"
    sig.severity = firing[1].sev
    local names = {}
    for i = 1, math.min(#firing, GROUP_LISTED) do
      table.insert(names, "[" .. firing[i].sev .. "] " .. tostring(firing[i].n))
    end
    table.insert(lines, #firing .. " firing: " .. table.concat(names, ", ")
      .. (#firing > GROUP_LISTED and (" and " .. (#firing - GROUP_LISTED) .. " more") or ""))
    if resolved > 0 then table.insert(lines, resolved .. " resolved") end
  else
    sig.status = "resolved"
    table.insert(lines, "all " .. resolved .. " resolved")
  end
  if sig.summary and sig.summary ~= "" then table.insert(lines, sig.summary) end
  sig.summary = table.concat(lines, "\n")
  sig.sends = sig.sends_by[sig.severity] or {}
  sig.escalation = sig.escalation_by[sig.severity] or {}
  return sig
end
