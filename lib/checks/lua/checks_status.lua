-- Read what the status page shows for every check: one round trip, read-only.
-- ARGV: 1 prefix, 2 now, 3 JSON {names, days (newest first, 31), mod, hours (newest first), tails,
--       runs = [[yyyymmdd, minute of day], ...] oldest first}
-- Per check: its state document, whole-day counts of up and seen minutes
-- (today: up to `mod`), the tail of the day `n` days ago after `mod` for each n
-- in `tails` (so windows are exactly n*1440 minutes), the latency histogram of
-- each of `hours`, and one letter per minute of `runs`: u up, d down, . no run.
--#include checks_lib
local req = cjson.decode(ARGV[3])
local states = redis.call("HMGET", ck("state"), unpack(req.names))
local out = {}

local function counts(kind, name)
  local full = {count_bits(ck(kind, name, req.days[1]), 0, req.mod)}
  for i = 2, #req.days do
    table.insert(full, redis.call("BITCOUNT", ck(kind, name, req.days[i])))
  end
  local tails = {}
  for _, n in ipairs(req.tails) do
    tails[tostring(n)] = count_bits(ck(kind, name, req.days[n + 1]), req.mod + 1, MINUTES_PER_DAY - 1)
  end
  return full, tails
end

for i, name in ipairs(req.names) do
  local up, up_tail = counts("up", name)
  local seen, seen_tail = counts("seen", name)
  local hours = {}
  for h, hour in ipairs(req.hours) do
    local flat, hist = redis.call("HGETALL", ck("lat", name, hour)), {}
    for j = 1, #flat, 2 do hist[flat[j]] = tonumber(flat[j + 1]) end
    hours[h] = hist
  end
  local runs = {}
  for r, at in ipairs(req.runs or {}) do
    if redis.call("GETBIT", ck("seen", name, at[1]), at[2]) == 0 then
      runs[r] = "."
    else
      runs[r] = redis.call("GETBIT", ck("up", name, at[1]), at[2]) == 1 and "u" or "d"
    end
  end
  out[i] = {name = name, state = states[i] or "", up = up, seen = seen,
    up_tail = up_tail, seen_tail = seen_tail, hours = hours, runs = table.concat(runs)}
end
return cjson.encode(out)
