-- incidents.apply for a batch of signals: one round trip, atomic.
-- ARGV: 1 prefix, 2 now, 3 JSON {signals = [...], deploy_window = s, deploy, counters,
--       settle = [{key, ids}], token}, 4 lease seconds, 5 reminder delay
--#include incident_lib
--#include inhibit_lib
--#include group_lib
local req = cjson.decode(ARGV[3])
local LEASE = tonumber(ARGV[4])
local TOKEN_TTL = 600 -- a caller that lost the answer asks again within this
local out = {}

local token = req.token ~= cjson.null and req.token or nil
if token then
  local prior = redis.call("GET", k("applied", token))
  if prior then return prior end -- decided already: the same decisions, nothing twice
end

local RANK = {P0 = 0, P1 = 1, P2 = 2, P3 = 3}

local function recent_deploy()
  local raw = redis.call("GET", k("deploy", "last"))
  if not raw then return nil end
  local d = cjson.decode(raw)
  if d.at and NOW - d.at <= (req.deploy_window or 1800) and NOW >= d.at then return d end
  return nil
end

-- Claim the severity's routing and schedule its escalation from now.
local function announce(inc, sig)
  local sends = {}
  for _, spec in ipairs(sig.sends) do
    table.insert(sends, claim_send(inc, spec, "trigger", LEASE, nil))
  end
  schedule_escalation(inc, NOW)
  return sends
end

-- The newest evidence (Signal.evidence_at) an incident has seen; see stale_resolve.
local function note_evidence(inc, sig)
  local at = tonumber(sig.evidence_at)
  if at and (not tonumber(inc.evidence_at) or at > tonumber(inc.evidence_at)) then inc.evidence_at = at end
end

-- A resolve that saw the problem last before the open incident's own evidence is a
-- replayed recording (Sentry signs neither timestamp nor Request-ID): it resolves nothing.
local function stale_resolve(inc, sig)
  local at, have = tonumber(sig.evidence_at), tonumber(inc.evidence_at)
  return at and have and at + 1 < have
end

-- Every incident can end: sig.ends = {after = s, why} is its quiet period (a source that
-- never says "resolved") or its expiry, counted from its last firing signal; the
-- escalation sweep resolves it when that passes (lua/sweep.lua, step 0).
local function keep_alive(inc, sig)
  local ends = sig.ends
  if ends and ends ~= cjson.null and tonumber(ends.after) then
    inc.ends = ends
    redis.call("ZADD", k("ends"), NOW + tonumber(ends.after), inc.id)
  end
end

local function open_new(sig)
  redis.call("SETNX", k("seq"), 1000) -- ids start at #1001
  local id = tostring(redis.call("INCR", k("seq")))
  local inc = {
    id = id, key = sig.key, severity = sig.severity, status = "triggered",
    title = sig.title, summary = sig.summary, source = sig.source,
    labels = sig.labels, links = sig.links, opened_at = NOW, last_seen = NOW,
    occurrences = 1, escalation = sig.escalation, steps_done = {}, slack = {},
    notified = {}, deploy = recent_deploy()
  }
  note_evidence(inc, sig)
  local sends = announce(inc, sig)
  keep_alive(inc, sig)
  save_incident(inc)
  redis.call("SET", k("key", sig.key), id)
  redis.call("ZADD", k("open"), NOW, id)
  archive(id .. ":opened", "opened", id, {
    key = sig.key, severity = sig.severity, title = sig.title, summary = sig.summary,
    source = sig.source, labels = sig.labels, links = sig.links, opened_at = NOW
  })
  count_metric("incidents_opened", sig.severity)
  return {reason = "OPENED", incident = inc, sends = sends}
end

local function upgrade(inc, sig)
  local from = inc.severity
  inc.severity = sig.severity
  inc.status = "triggered"
  inc.acked_by = nil
  inc.acked_at = nil
  inc.acked_via = nil
  cancel_escalation(inc)
  cancel_sends(inc.id, {trigger = true}, nil) -- the old severity's pages, if still queued
  inc.escalation = sig.escalation
  inc.steps_done = {}
  -- The new severity's pages go out and its escalation runs from the upgrade.
  local sends = announce(inc, sig)
  keep_alive(inc, sig)
  save_incident(inc)
  archive(inc.id .. ":upgraded:" .. sig.severity, "upgraded", inc.id, {severity = sig.severity, from = from})
  return {reason = "UPGRADED", incident = inc, sends = sends, detail = from .. " -> " .. sig.severity}
end

local function fire(sig)
  local silence = redis.call("GET", k("silence", sig.key))
  if silence then
    local sl = cjson.decode(silence)
    if tonumber(sl["until"]) > NOW then
      return {reason = "SILENCED", detail = "marked false positive: " .. tostring(sl.reason)}
    end
  end
  local id = redis.call("GET", k("key", sig.key))
  local inc = id and load_incident(id)
  if sig.burst and sig.burst ~= cjson.null and not inc then
    local window = tonumber(sig.burst_window) or 60
    local bucket = k("burst", sig.key, tostring(math.floor(NOW / window)))
    local n = redis.call("INCR", bucket)
    redis.call("EXPIRE", bucket, math.ceil(window * 2))
    if n <= tonumber(sig.burst) then
      return {reason = "BELOW_THRESHOLD", detail = n .. " of more than " .. sig.burst .. " needed"}
    end
  end
  local opening = not inc or inc.status == "resolved"
  if opening or RANK[sig.severity] < RANK[inc.severity] then
    local by, untl = muted_by(sig) -- a symptom of an open cause pages nobody (yet)
    if by then return inhibit_mute(sig, by, untl) end
  end
  if opening then
    return open_new(sig)
  end
  inc.last_seen = NOW
  note_evidence(inc, sig)
  inc.occurrences = (inc.occurrences or 1) + 1
  if sig.summary and sig.summary ~= "" then inc.summary = sig.summary end
  if RANK[sig.severity] < RANK[inc.severity] then
    return upgrade(inc, sig)
  end
  keep_alive(inc, sig)
  save_incident(inc)
  return {reason = "DEDUPED", incident = inc}
end

local function resolve(sig)
  local current = redis.call("GET", k("key", sig.key))
  local open = current and load_incident(current)
  if open and open.status ~= "resolved" and stale_resolve(open, sig) then
    return {reason = "NOT_OPEN", detail = "stale: the source saw it last before this incident began"}
  end
  inhibit_forget(sig)
  inhibit_resolve(sig)
  local id = redis.call("GET", k("key", sig.key))
  local inc = id and load_incident(id)
  if not inc or inc.status == "resolved" then
    return {reason = "NOT_OPEN"}
  end
  local sends = close_incident(inc, "source", sig.source)
  save_incident(inc)
  return {reason = "RESOLVED", incident = inc, sends = sends}
end

-- The latest production deployment (Vercel webhook), remembered in the same round trip.
if req.deploy and req.deploy ~= cjson.null then
  redis.call("SET", k("deploy", "last"), cjson.encode(req.deploy), "EX", 7 * 86400)
end

-- Counters of this request (e.g. webhooks by source and outcome), in the same round trip.
for _, c in ipairs(req.counters or {}) do
  redis.call("HINCRBY", k("metrics", c[1]), c[2], c[3])
end

-- An Alertmanager group says what its merged alerts say (status, severity, the list).
for i, sig in ipairs(req.signals) do
  if sig.group and sig.group ~= cjson.null then req.signals[i] = group_signal(sig) end
end

-- Sources of this batch mute from the start of it, whatever the order of its signals.
for _, sig in ipairs(req.signals) do
  if sig.status == "firing" and not sig.release then inhibit_register(sig) end
end

for _, sig in ipairs(req.signals) do
  local d
  if sig.release and inhibit_forget(sig) == 0 then
    d = {reason = "DUPLICATE", detail = "already released"} -- an overlapping escalation run did it
  elseif sig.delivery_id and sig.delivery_id ~= cjson.null
      and not redis.call("SET", k("seen", sig.delivery_id .. "|" .. sig.key), "1", "NX", "EX", 86400) then
    d = {reason = "DUPLICATE", detail = "delivery " .. sig.delivery_id .. " already seen"}
  elseif sig.status == "resolved" then
    d = resolve(sig)
  else
    d = fire(sig)
  end
  table.insert(out, d)
end

-- The transitions these signals came from are consumed only now, with their decisions.
for _, p in ipairs(req.settle or {}) do
  if #p.ids > 0 then redis.call("HDEL", k(p.key), unpack(p.ids)) end
end

local result = cjson.encode(out)
if token then redis.call("SET", k("applied", token), result, "EX", TOKEN_TTL) end
return result
