-- Claim a check run's minute slot: the first run of a minute evaluates, a
-- duplicate delivery of the same cron finds the slot taken and does nothing.
-- The winner also gets the suspects: checks that were slow or unanswered last
-- run, probed first so their timeouts overlap the rest of the run.
-- A refused claim returns the last run the store has recorded, so the caller can
-- say why (a clock behind the store's newest run is not a duplicate delivery).
-- ARGV: 1 prefix, 2 now, 3 slot (unix minute), 4 ttl seconds
--#include checks_lib
local claimed = redis.call("SET", ck("slot", ARGV[3]), ARGV[2], "NX", "EX", tonumber(ARGV[4]))
if not claimed then
  return cjson.encode({claimed = false, last = tonumber(redis.call("GET", P .. "cron:last:checks"))})
end
return cjson.encode({claimed = true, suspects = redis.call("SMEMBERS", ck("suspects"))})
