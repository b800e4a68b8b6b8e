-- Acknowledge an incident: stop its escalation, once. An ack on a resolved
-- incident changes nothing (an ack racing a resolve never re-opens it).
-- ARGV: 1 prefix, 2 now, 3 JSON {id, by, via, email}, 4 lease, 5 reminder delay
--#include incident_lib
local req = cjson.decode(ARGV[3])
local inc = load_incident(req.id)
if not inc then return cjson.encode({reason = "UNKNOWN_INCIDENT"}) end
if inc.status == "resolved" then return cjson.encode({reason = "ALREADY_RESOLVED", incident = inc}) end
if inc.status == "acknowledged" then return cjson.encode({reason = "ALREADY_ACKNOWLEDGED", incident = inc}) end
inc.status = "acknowledged"
inc.acked_by = req.by
inc.acked_via = req.via
inc.acked_at = NOW
if req.email and req.email ~= cjson.null then inc.acked_email = req.email end
cancel_escalation(inc)
-- Pages still waiting for a retry are moot once someone has it; the channel post is not.
cancel_sends(inc.id, {escalate = true}, nil)
cancel_sends(inc.id, {trigger = true}, {sms = true, call = true})
local sends = {}
if inc.slack and inc.slack.ts then
  table.insert(sends, claim_send(inc, {channel = "slack", to = "", address = inc.slack.channel}, "ack", tonumber(ARGV[4]), nil))
end
save_incident(inc)
archive(inc.id .. ":acknowledged", "acknowledged", inc.id, {by = req.by, via = req.via})
return cjson.encode({reason = "ACKNOWLEDGED", incident = inc, sends = sends})
