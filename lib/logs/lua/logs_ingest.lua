-- Log drains: count one batch's matching lines, one round trip whatever its size.
-- A line id already seen in its minute (a redelivered batch) counts nothing.
-- ARGV: 1 prefix, 2 JSON {
--   rules = [name], lines = [{id, m = minute counted in, k = the line's own minute (dedup),
--   n = [rule index], d = [rule index]}],
--   samples = [{r = rule index, id, s = json}], ids_ttl = s (the longest horizon), ttl = s (the rest),
--   counters = [[metric, field, by]] }
-- Keys: logs:c:<rule> hash {<minute> = matching, <minute>:of = of-lines},
-- logs:ids:<minute> set of ids, logs:s:<rule> list of 3 samples, logs:rules (names with counts),
-- logs:active.
local P = ARGV[1]
local a = cjson.decode(ARGV[2])
local function k(...) return P .. table.concat({...}, ":") end

local fresh, sums, minutes = {}, {}, {}
local counted, duplicate, newest = 0, 0, -1
for _, line in ipairs(a.lines or {}) do
  local m, own = tostring(line.m), tostring(line.k or line.m)
  if redis.call("SADD", k("logs", "ids", own), line.id) == 1 then
    fresh[line.id] = true
    minutes[own] = true
    counted = counted + 1
    if line.m > newest then newest = line.m end
    for _, r in ipairs(line.n or {}) do
      local f = r .. "|" .. m
      sums[f] = (sums[f] or 0) + 1
    end
    for _, r in ipairs(line.d or {}) do
      local f = r .. "|" .. m .. ":of"
      sums[f] = (sums[f] or 0) + 1
    end
  else
    duplicate = duplicate + 1
  end
end
for m, _ in pairs(minutes) do redis.call("EXPIRE", k("logs", "ids", m), a.ids_ttl) end
local touched = {}
for f, n in pairs(sums) do
  local bar = string.find(f, "|", 1, true)
  local name = a.rules[tonumber(string.sub(f, 1, bar - 1)) + 1]
  redis.call("HINCRBY", k("logs", "c", name), string.sub(f, bar + 1), n)
  touched[name] = true
end
for name, _ in pairs(touched) do
  redis.call("EXPIRE", k("logs", "c", name), a.ttl)
  redis.call("SADD", k("logs", "rules"), name) -- so the evaluation can tell a rule taken out of the config
end
if next(touched) then redis.call("EXPIRE", k("logs", "rules"), a.ttl) end
for _, s in ipairs(a.samples or {}) do
  if fresh[s.id] then
    local key = k("logs", "s", a.rules[s.r + 1])
    redis.call("LPUSH", key, s.s)
    redis.call("LTRIM", key, 0, 2)
    redis.call("EXPIRE", key, a.ttl)
  end
end
if newest >= 0 then
  -- The rules cron evaluates log rules only while this key exists.
  local was = tonumber(redis.call("GET", k("logs", "active")) or "-1")
  redis.call("SET", k("logs", "active"), tostring(math.max(was, newest)), "EX", a.ttl)
end
for _, c in ipairs(a.counters or {}) do
  redis.call("HINCRBY", k("metrics", c[1]), c[2], c[3])
end
redis.call("HINCRBY", k("metrics", "log_lines"), "counted", counted)
if duplicate > 0 then redis.call("HINCRBY", k("metrics", "log_lines"), "duplicate", duplicate) end
return cjson.encode({counted = counted, duplicate = duplicate})
