-- Shared helpers for the incident scripts (inlined with --#include).
-- Keys are built from the prefix (ARGV[1]); values are JSON documents.
local P = ARGV[1]
local NOW = tonumber(ARGV[2])
local RETAIN = 30 * 86400 -- resolved incidents and their indexes are kept 30 days

local function k(...)
  return P .. table.concat({...}, ":")
end

local function load_incident(id)
  local raw = redis.call("GET", k("inc", id))
  if not raw then return nil end
  return cjson.decode(raw)
end

local function save_incident(inc)
  if inc.status == "resolved" then
    redis.call("SET", k("inc", inc.id), cjson.encode(inc), "EX", RETAIN)
  else
    redis.call("SET", k("inc", inc.id), cjson.encode(inc))
  end
end

local function archive(id, etype, incident, data)
  local ev = {id = id, type = etype, at = NOW, data = data}
  if incident then ev.incident = incident end
  redis.call("RPUSH", k("archive"), cjson.encode(ev))
end

local function count_metric(name, field, by)
  redis.call("HINCRBY", k("metrics", name), field, by or 1)
end

-- Claim a delivery: it sits in the outbox leased to the caller until `lease`
-- seconds from now; if the caller dies, the next cron run retries it.
local function claim_send(inc, spec, kind, lease, step)
  local n = redis.call("INCR", k("sendseq"))
  local send = {
    id = inc.id .. ":" .. n, incident = inc.id, channel = spec.channel, kind = kind,
    to = spec.to or "", address = spec.address or "", mention = spec.mention or "",
    attempt = 1, step = step
  }
  redis.call("HSET", k("outbox"), send.id, cjson.encode(send))
  redis.call("ZADD", k("outbox", "due"), NOW + lease, send.id)
  redis.call("SADD", k("inc", inc.id, "sends"), send.id)
  return send
end

-- Drop queued deliveries of an incident that no longer need to go out.
local function cancel_sends(inc_id, kinds_or_nil, channels_or_nil)
  local ids = redis.call("SMEMBERS", k("inc", inc_id, "sends"))
  for _, sid in ipairs(ids) do
    local raw = redis.call("HGET", k("outbox"), sid)
    if not raw then
      redis.call("SREM", k("inc", inc_id, "sends"), sid)
    else
      local s = cjson.decode(raw)
      local kind_ok = (kinds_or_nil == nil) or kinds_or_nil[s.kind]
      local chan_ok = (channels_or_nil == nil) or channels_or_nil[s.channel]
      if kind_ok and chan_ok then
        redis.call("HDEL", k("outbox"), sid)
        redis.call("ZREM", k("outbox", "due"), sid)
        redis.call("SREM", k("inc", inc_id, "sends"), sid)
      end
    end
  end
end

local function cancel_escalation(inc)
  local steps = inc.escalation or {}
  for i = 0, #steps - 1 do
    redis.call("ZREM", k("esc"), inc.id .. ":" .. i)
  end
end

local function schedule_escalation(inc, from)
  local steps = inc.escalation or {}
  for i, step in ipairs(steps) do
    redis.call("ZADD", k("esc"), from + step.after, inc.id .. ":" .. (i - 1))
  end
end

-- Where the resolve / ack notices go: Slack where it was announced, and e-mail
-- to whoever was e-mailed for P0/P1.
local function notice_sends(inc, kind, lease)
  local out = {}
  local slack_done = false
  for _, spec in ipairs(inc.notified or {}) do
    if spec.channel == "slack" and not slack_done then
      slack_done = true
      table.insert(out, claim_send(inc, spec, kind, lease, nil))
    elseif spec.channel == "email" and kind == "resolve" and (inc.severity == "P0" or inc.severity == "P1") then
      table.insert(out, claim_send(inc, spec, kind, lease, nil))
    end
  end
  return out
end

local function close_incident(inc, by, via, lease)
  inc.status = "resolved"
  inc.resolved_at = NOW
  inc.resolved_by = by
  redis.call("DEL", k("key", inc.key))
  redis.call("ZREM", k("open"), inc.id)
  redis.call("ZREM", k("ends"), inc.id)
  redis.call("ZADD", k("recent"), NOW, inc.id)
  redis.call("ZREMRANGEBYSCORE", k("recent"), "-inf", NOW - RETAIN)
  cancel_escalation(inc)
  cancel_sends(inc.id, {trigger = true, escalate = true, ack = true}, nil)
  local sends = notice_sends(inc, "resolve", tonumber(ARGV[4]) or 120)
  -- A test alert (scripts/send_test_alert.py) is no incident to document.
  if (inc.severity == "P0" or inc.severity == "P1") and inc.source ~= "test"
      and (inc.false_positive == nil or inc.false_positive == cjson.null)
      and (inc.postmortem == nil or inc.postmortem == cjson.null) then
    redis.call("ZADD", k("reminders"), inc.opened_at + (tonumber(ARGV[5]) or 86400), inc.id)
  end
  redis.call("EXPIRE", k("inc", inc.id, "sends"), RETAIN)
  archive(inc.id .. ":resolved", "resolved", inc.id, {by = by, via = via})
  count_metric("incidents_resolved", inc.severity)
  return sends
end
