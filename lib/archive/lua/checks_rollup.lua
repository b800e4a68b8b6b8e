-- Hourly check rollups for the archive: up and evaluated minutes of one UTC hour
-- (from the day bitmaps) and its latency histogram. Read only. One round trip.
-- ARGV: 1 prefix, 2 JSON {checks = [name...], hours = [{hour = "yyyymmddhh", day = "yyyymmdd", first = minute-of-day}]}
local P = ARGV[1]
local req = cjson.decode(ARGV[2])
local out = {}
for _, name in ipairs(req.checks) do
  for _, h in ipairs(req.hours) do
    local up, seen = 0, 0
    local upkey = P .. "checks:up:" .. name .. ":" .. h.day
    local seenkey = P .. "checks:seen:" .. name .. ":" .. h.day
    for m = h.first, h.first + 59 do
      seen = seen + redis.call("GETBIT", seenkey, m)
      up = up + redis.call("GETBIT", upkey, m)
    end
    if seen > 0 then
      local hist = redis.call("HGETALL", P .. "checks:lat:" .. name .. ":" .. h.hour)
      local buckets = {}
      for i = 1, #hist, 2 do buckets[hist[i]] = tonumber(hist[i + 1]) end
      table.insert(out, {check = name, hour = h.hour, up = up, seen = seen, hist = buckets})
    end
  end
end
if #out == 0 then return "[]" end
return cjson.encode(out)
