-- Record delivery outcomes: done, retry later with backoff, or give up.
-- ARGV: 1 prefix, 2 now, 3 JSON {results = [...], backoff = [s...], max_attempts = n}, 4 lease, 5 reminder delay
--#include incident_lib
local req = cjson.decode(ARGV[3])
local backoff = req.backoff
local out = {}

local function add_notified(inc, s)
  local list = inc.notified or {}
  for _, n in ipairs(list) do
    if n.channel == s.channel and n.address == s.address then return end
  end
  table.insert(list, {channel = s.channel, to = s.to, address = s.address, mention = s.mention})
  inc.notified = list
end

for _, r in ipairs(req.results) do
  local raw = redis.call("HGET", k("outbox"), r.id)
  if not raw then
    table.insert(out, {id = r.id, state = "gone"})
  else
    local s = cjson.decode(raw)
    local inc = load_incident(s.incident)
    local state
    if r.ok then
      state = "done"
    elseif r.retryable and not r.permanent and s.attempt < req.max_attempts then
      state = "retry"
    else
      state = "failed"
    end
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
    if inc and r.ok and (s.kind == "trigger" or s.kind == "escalate") then
      add_notified(inc, s)
      if s.channel == "slack" and r.ref and r.ref.ts and (not inc.slack or not inc.slack.ts) then
        inc.slack = {channel = r.ref.channel, ts = r.ref.ts}
      end
      save_incident(inc)
    end
    archive(s.incident .. ":notified:" .. s.id .. ":" .. s.attempt, "notified", s.incident, {
      channel = s.channel, to = s.to, address = s.address, kind = s.kind, ok = r.ok,
      detail = r.detail, attempt = s.attempt, step = s.step
    })
    count_metric(r.ok and "notifications_sent" or "notifications_failed", s.channel)
    table.insert(out, {id = r.id, state = state})
  end
end
return cjson.encode(out)
