-- Record delivery outcomes: done, retry later with backoff, or give up.
-- ARGV: 1 prefix, 2 now, 3 JSON {results = [...], backoff = [s...], max_attempts = n}, 4 lease, 5 reminder delay
-- A result names its send ({id, incident, channel, kind, to, address, mention}) so that one
-- taken back from the outbox while in flight (a resolve or an ack cancelled it) still counts:
-- the post went out, its reference is kept, and the notice it missed is claimed now.
-- Returns {results = [{id, state}], sends = [follow-ups], incidents = {id = incident}}.
--#include incident_lib
local req = cjson.decode(ARGV[3])
local LEASE = tonumber(ARGV[4])
local backoff = req.backoff
local out, follow, touched = {}, {}, {}

local function add_notified(inc, s)
  local list = inc.notified or {}
  for _, n in ipairs(list) do
    if n.channel == s.channel and n.address == s.address then return end
  end
  table.insert(list, {channel = s.channel, to = s.to, address = s.address, mention = s.mention})
  inc.notified = list
end

-- The first Slack post of an incident: keep its reference; if the incident was acknowledged
-- or resolved while the post was in flight, that notice could not be claimed then: claim it now.
local function keep_slack_ref(inc, ref)
  if inc.slack and inc.slack.ts then return end
  inc.slack = {channel = ref.channel, ts = ref.ts}
  if inc.status ~= "triggered" then
    local kind = inc.status == "resolved" and "resolve" or "ack"
    table.insert(follow, claim_send(inc, {channel = "slack", to = "", address = ref.channel}, kind, LEASE, nil))
  end
end

local function outcome(r, s)
  if r.ok then return "done" end
  if r.retryable and not r.permanent and s.attempt < req.max_attempts then return "retry" end
  return "failed"
end

for _, r in ipairs(req.results) do
  local raw = redis.call("HGET", k("outbox"), r.id)
  local s, state
  if raw then
    s = cjson.decode(raw)
    state = outcome(r, s)
    if state == "retry" then
      local wait = backoff[math.min(s.attempt, #backoff)]
      -- The vendor's Retry-After (Slack 429, Twilio), when longer than our backoff.
      if type(r.retry_after) == "number" and r.retry_after > wait then wait = r.retry_after end
      redis.call("ZADD", k("outbox", "due"), NOW + wait, r.id)
    else
      redis.call("HDEL", k("outbox"), r.id)
      redis.call("ZREM", k("outbox", "due"), r.id)
      redis.call("SREM", k("inc", s.incident, "sends"), r.id)
    end
  else
    s = {id = r.id, incident = r.incident, channel = r.channel, kind = r.kind, to = r.to or "",
         address = r.address or "", mention = r.mention or "", attempt = r.attempt or 1}
    state = "gone" -- cancelled while in flight, or recorded already by an answer we never heard
  end
  local inc = s.incident and s.incident ~= cjson.null and (touched[s.incident] or load_incident(s.incident))
  if inc and r.ok and (s.kind == "trigger" or s.kind == "escalate") then
    add_notified(inc, s)
    local ref = r.ref
    if s.channel == "slack" and ref and ref ~= cjson.null and ref.ts then keep_slack_ref(inc, ref) end
    save_incident(inc)
    touched[inc.id] = inc
  end
  if raw or r.ok then
    archive(s.incident .. ":notified:" .. s.id .. ":" .. s.attempt, "notified", s.incident, {
      channel = s.channel, to = s.to, address = s.address, kind = s.kind, ok = r.ok,
      detail = r.detail, attempt = s.attempt, step = s.step
    })
  end
  if raw then count_metric(r.ok and "notifications_sent" or "notifications_failed", s.channel) end
  table.insert(out, {id = r.id, state = state})
end
local incidents = {}
for _, f in ipairs(follow) do incidents[f.incident] = touched[f.incident] end
return cjson.encode({results = out, sends = follow, incidents = incidents})
