-- The escalation cron: end the incidents whose quiet period or expiry has passed,
-- claim due escalation steps, due retries and due postmortem reminders, exactly
-- once even when runs overlap. One round trip.
-- ARGV: 1 prefix, 2 now, 3 JSON {limit = n}, 4 lease seconds, 5 reminder delay
--#include incident_lib
--#include inhibit_lib
local req = cjson.decode(ARGV[3])
local LEASE = tonumber(ARGV[4])
local LIMIT = tonumber(req.limit) or 200
local sends, incidents, escalated = {}, {}, {}

local function remember(inc)
  incidents[inc.id] = inc
end

local function first_notified(inc, channel)
  for _, spec in ipairs(inc.notified or {}) do
    if spec.channel == channel then return spec end
  end
  return nil
end

-- 0. Incidents whose source went quiet, or that expired (apply.lua keep_alive): resolved
-- by Vigil, with the notices a resolve sends. ZREM is the claim.
local ended = {}
for _, id in ipairs(redis.call("ZRANGEBYSCORE", k("ends"), "-inf", NOW, "LIMIT", 0, LIMIT)) do
  redis.call("ZREM", k("ends"), id)
  local inc = load_incident(id)
  if inc and inc.status ~= "resolved" then
    local why = inc.ends and inc.ends ~= cjson.null and inc.ends.why or "expiry"
    for _, s in ipairs(close_incident(inc, "Vigil (" .. why .. ")", why, LEASE)) do table.insert(sends, s) end
    save_incident(inc)
    remember(inc)
    table.insert(ended, {incident = inc.id, why = why})
  end
end

-- 1. Escalation steps that are due. ZREM is the claim: a second run finds nothing.
for _, member in ipairs(redis.call("ZRANGEBYSCORE", k("esc"), "-inf", NOW, "LIMIT", 0, LIMIT)) do
  redis.call("ZREM", k("esc"), member)
  local id, step = string.match(member, "^(.+):(%d+)$")
  local inc = id and load_incident(id)
  if inc and inc.status == "triggered" then
    local idx = tonumber(step)
    local spec = (inc.escalation or {})[idx + 1]
    if spec then
      local who = {}
      for _, s in ipairs(spec.sends or {}) do
        table.insert(sends, claim_send(inc, s, "escalate", LEASE, idx))
        table.insert(who, s.channel .. ":" .. (s.to or ""))
      end
      local done = inc.steps_done or {}
      table.insert(done, idx)
      inc.steps_done = done
      save_incident(inc)
      remember(inc)
      archive(inc.id .. ":escalated:" .. idx, "escalated", inc.id, {step = idx, notify = who})
      table.insert(escalated, {incident = inc.id, step = idx})
    end
  end
end

-- 2. Deliveries whose retry time (or lease) has come: lease them to this run.
for _, sid in ipairs(redis.call("ZRANGEBYSCORE", k("outbox", "due"), "-inf", NOW, "LIMIT", 0, LIMIT)) do
  local raw = redis.call("HGET", k("outbox"), sid)
  if not raw then
    redis.call("ZREM", k("outbox", "due"), sid)
  else
    local s = cjson.decode(raw)
    s.attempt = (tonumber(s.attempt) or 1) + 1
    redis.call("HSET", k("outbox"), sid, cjson.encode(s))
    redis.call("ZADD", k("outbox", "due"), NOW + LEASE, sid)
    table.insert(sends, s)
    if not incidents[s.incident] then
      local inc = load_incident(s.incident)
      if inc then remember(inc) end
    end
  end
end

-- 3. Postmortem reminders (the runbook's "document within 24 hours").
for _, id in ipairs(redis.call("ZRANGEBYSCORE", k("reminders"), "-inf", NOW, "LIMIT", 0, LIMIT)) do
  redis.call("ZREM", k("reminders"), id)
  local inc = load_incident(id)
  if inc and (inc.false_positive == nil or inc.false_positive == cjson.null)
      and (inc.postmortem == nil or inc.postmortem == cjson.null) then
    -- A reply in the Slack thread, and an e-mail to whoever acknowledged (else the first e-mailed).
    local to = inc.acked_email
    local email = (to and to ~= cjson.null and to ~= "") and {channel = "email", to = inc.acked_by or "", address = to}
      or first_notified(inc, "email")
    for _, spec in ipairs({first_notified(inc, "slack") or false, email or false}) do
      if spec then table.insert(sends, claim_send(inc, spec, "reminder", LEASE, nil)) end
    end
    archive(inc.id .. ":reminded", "reminded", inc.id, {})
    remember(inc)
  end
end

-- 4. Muted targets whose hold is over: still muted (another source) wait; the rest
-- are leased to this run, which applies them (lib.incidents.inhibit).
local releases = {}
for _, key in ipairs(redis.call("ZRANGEBYSCORE", k("inh", "release"), "-inf", NOW, "LIMIT", 0, LIMIT)) do
  local raw = redis.call("HGET", k("inh", "muted"), key)
  local by, untl = nil, nil
  if raw then by, untl = muted_by(cjson.decode(raw)) end
  if not raw or (by and not untl) then
    redis.call("ZREM", k("inh", "release"), key) -- gone, or muted again until its source resolves
  elseif untl then
    redis.call("ZADD", k("inh", "release"), untl, key)
  else
    redis.call("ZADD", k("inh", "release"), NOW + LEASE, key)
    table.insert(releases, raw)
  end
end

redis.call("SET", k("cron", "last", "escalations"), tostring(NOW))
local backlog = redis.call("ZCARD", k("outbox", "due"))
if #sends == 0 then
  return cjson.encode({sends = {}, incidents = {}, escalated = {}, backlog = backlog, releases = releases,
    ended = ended})
end
return cjson.encode({sends = sends, incidents = incidents, escalated = escalated, backlog = backlog,
  releases = releases, ended = ended})
