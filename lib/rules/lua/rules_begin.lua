-- Metric rules, round trip 1 of a cron run: tick the watchdog, claim the minute
-- slot, and read everything the run evaluates against.
-- ARGV: 1 prefix, 2 now, 3 slot (unix minute), 4 JSON {keep = {url_id = oldest score kept},
--   logs = true: say whether lib/logs has counts to evaluate}
-- A slot at or before the last claimed one is a duplicate (or late) delivery of
-- the cron: it evaluates nothing.
local P, NOW, SLOT = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local args = cjson.decode(ARGV[4])
local function k(...) return P .. table.concat({...}, ":") end
local function hash(key)
  local flat, out = redis.call("HGETALL", key), {}
  for i = 1, #flat, 2 do out[flat[i]] = flat[i + 1] end
  return out
end

redis.call("SET", k("cron", "last", "rules"), string.format("%.3f", NOW), "EX", 604800)
local last = tonumber(redis.call("GET", k("rules", "slot")) or "-1")
if last >= SLOT then
  return cjson.encode({claimed = false, last = last})
end
redis.call("SET", k("rules", "slot"), string.format("%d", SLOT), "EX", 86400)
redis.call("HINCRBY", k("metrics", "cron_runs"), "rules", 1)
redis.call("HSET", k("metrics", "cron_lag_seconds"), "rules", string.format("%.3f", NOW - SLOT))

-- Signals an earlier run committed but never saw decided (rules_commit wrote them,
-- incidents.apply deletes them): handed out again, unless another run took them
-- within the last 45 s.
local pending = {}
local flat = redis.call("HGETALL", k("rules", "pending"))
for i = 1, #flat, 2 do
  local p = cjson.decode(flat[i + 1])
  if NOW - (tonumber(p.at) or 0) >= 45 then
    p.at = NOW
    redis.call("HSET", k("rules", "pending"), flat[i], cjson.encode(p))
    p.id = flat[i]
    table.insert(pending, p)
  end
end

local samples = {}
for id, oldest in pairs(args.keep or {}) do
  samples[id] = redis.call("ZRANGEBYSCORE", k("rules", "samples", id), string.format("(%d", oldest), "+inf")
end
return cjson.encode({
  claimed = true,
  logs = args.logs == true and redis.call("EXISTS", k("logs", "active")) == 1,
  state = hash(k("rules", "state")),
  scrapes = hash(k("rules", "scrapes")),
  samples = samples,
  pending = pending,
})
