-- Resolve an incident by id (Slack button, link), optionally as a false
-- positive that silences its key for a while. Idempotent.
-- ARGV: 1 prefix, 2 now, 3 JSON {id, by, via, false_positive, silence_s}, 4 lease, 5 reminder delay
--#include incident_lib
local req = cjson.decode(ARGV[3])
local inc = load_incident(req.id)
if not inc then return cjson.encode({reason = "UNKNOWN_INCIDENT"}) end
local fp = req.false_positive
if fp ~= nil and fp ~= cjson.null and (inc.false_positive == nil or inc.false_positive == cjson.null) then
  inc.false_positive = fp
  -- `until` decides (scripts never read Redis time); the TTL only cleans up.
  local silence_s = math.max(1, math.floor(tonumber(req.silence_s)))
  redis.call("SET", k("silence", inc.key),
    cjson.encode({reason = fp, by = req.by, at = NOW, ["until"] = NOW + silence_s}), "EX", silence_s + 86400)
  redis.call("ZREM", k("reminders"), inc.id)
  archive(inc.id .. ":false_positive", "false_positive", inc.id, {by = req.by, reason = fp})
end
if inc.status == "resolved" then
  save_incident(inc)
  return cjson.encode({reason = "ALREADY_RESOLVED", incident = inc})
end
local sends = close_incident(inc, req.by, req.via)
save_incident(inc)
return cjson.encode({reason = "RESOLVED", incident = inc, sends = sends})
