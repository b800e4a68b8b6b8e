-- Attach a postmortem link: recorded in the timeline, cancels the reminder.
-- ARGV: 1 prefix, 2 now, 3 JSON {id, url, by}, 4 lease, 5 reminder delay
--#include incident_lib
local req = cjson.decode(ARGV[3])
local inc = load_incident(req.id)
if not inc then return cjson.encode({reason = "UNKNOWN_INCIDENT"}) end
inc.postmortem = req.url
redis.call("ZREM", k("reminders"), inc.id)
save_incident(inc)
archive(inc.id .. ":postmortem:" .. math.floor(NOW), "postmortem", inc.id, {url = req.url, by = req.by})
return cjson.encode({reason = "POSTMORTEM", incident = inc})
