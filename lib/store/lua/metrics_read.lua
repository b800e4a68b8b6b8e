-- Everything GET /api/metrics shows, in one round trip (read only).
-- ARGV: 1 prefix, 2 JSON {hashes = [metric name], jobs = [cron job]}
local P = ARGV[1]
local args = cjson.decode(ARGV[2])
local function k(...) return P .. table.concat({...}, ":") end
local out = {hashes = {}, open = {}, ticks = {}}
for _, name in ipairs(args.hashes) do
  out.hashes[name] = redis.call("HGETALL", k("metrics", name))
end
-- Open incidents by severity and status (there are few: this is the open index).
for _, id in ipairs(redis.call("ZRANGE", k("open"), 0, -1)) do
  local raw = redis.call("GET", k("inc", id))
  if raw then
    local ok, inc = pcall(cjson.decode, raw)
    if ok and type(inc) == "table" and inc.severity then
      local field = tostring(inc.severity) .. "|" .. tostring(inc.status or "triggered")
      out.open[field] = (out.open[field] or 0) + 1
    end
  end
end
out.outbox = redis.call("HLEN", k("outbox"))
for _, job in ipairs(args.jobs) do
  out.ticks[job] = redis.call("GET", k("cron", "last", job)) or ""
end
out.rules = redis.call("HGETALL", k("rules", "state"))
return cjson.encode(out)
