-- Metric rules, round trip 2 of a cron run: write the new samples and alert
-- state, only if this run still holds the newest slot (a newer run that
-- claimed meanwhile wins; this one's transitions are then not announced).
-- ARGV: 1 prefix, 2 slot, 3 JSON {
--   state = {rule = json}, state_del = [rule], scrapes = {url_id = json}, scrapes_del = [url_id],
--   samples = {url_id = {member = json or absent, oldest = score kept, ttl = s}},
--   ttl = s, counts = [[metric, field, by]], pending = {id = {at, signal}} }
-- `pending` holds this run's signals until incidents.apply decides them (and deletes them).
local P, SLOT = ARGV[1], tonumber(ARGV[2])
local a = cjson.decode(ARGV[3])
local function k(...) return P .. table.concat({...}, ":") end

local cur = tonumber(redis.call("GET", k("rules", "slot")) or "-1")
if cur ~= SLOT then
  return cjson.encode({committed = false, slot = cur})
end
local function write(key, set, del)
  for field, value in pairs(set or {}) do redis.call("HSET", key, field, value) end
  for _, field in ipairs(del or {}) do redis.call("HDEL", key, field) end
  redis.call("EXPIRE", key, a.ttl)
end
write(k("rules", "state"), a.state, a.state_del)
write(k("rules", "scrapes"), a.scrapes, a.scrapes_del)
for id, s in pairs(a.samples or {}) do
  local key = k("rules", "samples", id)
  if s.member then
    redis.call("ZREMRANGEBYSCORE", key, SLOT, SLOT)
    redis.call("ZADD", key, SLOT, s.member)
  end
  redis.call("ZREMRANGEBYSCORE", key, "-inf", string.format("(%d", s.oldest))
  redis.call("EXPIRE", key, s.ttl)
end
for id, p in pairs(a.pending or {}) do
  redis.call("HSET", k("rules", "pending"), id, cjson.encode(p))
  redis.call("EXPIRE", k("rules", "pending"), a.ttl)
end
for _, c in ipairs(a.counts or {}) do
  redis.call("HINCRBY", k("metrics", c[1]), c[2], c[3])
end
return cjson.encode({committed = true})
