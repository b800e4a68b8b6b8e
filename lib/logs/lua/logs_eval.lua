-- Log rules, one cron run: read every rule's minute counts and samples, trimming
-- the minutes older than the rule needs; when no rule has a count left, the
-- drains have gone quiet and logs:active is deleted (the cron then stops asking).
-- `emptied`: rules whose last counts aged out in this run (the caller resolves them, so a
-- gap of missed cron runs cannot strand an incident). A rule with counts that is no longer configured is forgotten and returned in `gone`
-- (its open incident is resolved rather than stranded).
-- ARGV: 1 prefix, 2 slot (unix minute), 3 JSON {rules = [{name, from = oldest minute kept}]}
-- A slot at or before the last evaluated one (an overlapping or repeated cron) reads nothing.
local P, SLOT = ARGV[1], tonumber(ARGV[2])
local a = cjson.decode(ARGV[3])
local function k(...) return P .. table.concat({...}, ":") end

local last = tonumber(redis.call("GET", k("logs", "slot")) or "-1")
if last >= SLOT then return cjson.encode({claimed = false, last = last}) end
redis.call("SET", k("logs", "slot"), tostring(SLOT), "EX", 86400)

local counts, samples, any, emptied = {}, {}, false, {}
for _, r in ipairs(a.rules or {}) do
  local key, kept, old = k("logs", "c", r.name), {}, {}
  local flat = redis.call("HGETALL", key)
  for i = 1, #flat, 2 do
    local minute = tonumber(string.match(flat[i], "^(-?%d+)"))
    if minute == nil or minute < r.from then
      table.insert(old, flat[i])
    else
      kept[flat[i]] = flat[i + 1]
      any = true
    end
  end
  if #old > 0 then redis.call("HDEL", key, unpack(old)) end
  if #old > 0 and #old * 2 == #flat then table.insert(emptied, r.name) end -- its last counts aged out
  counts[r.name] = kept
  samples[r.name] = redis.call("LRANGE", k("logs", "s", r.name), 0, 2)
end
local gone = {}
for _, name in ipairs(redis.call("SMEMBERS", k("logs", "rules"))) do
  if counts[name] == nil then
    redis.call("DEL", k("logs", "c", name), k("logs", "s", name))
    redis.call("SREM", k("logs", "rules"), name)
    table.insert(gone, name)
  end
end
if not any then redis.call("DEL", k("logs", "active")) end
return cjson.encode({claimed = true, counts = counts, samples = samples, quiet = not any, gone = gone,
  emptied = emptied})
