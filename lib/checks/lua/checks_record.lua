-- Record one run's results for every check: one round trip, atomic.
-- History (up/seen bitmaps, latency histogram), per-check state (first failed
-- slot, the one the open incident's streak began at, ok streak, last result,
-- latency ring, alert levels), the cron tick, and the transitions the run
-- caused: which alerts should now fire or resolve.
-- Transitions wait in `checks:pending` until incidents.apply decides them (it
-- deletes them in its own script): whatever fails between this script and that
-- one, the next run hands them out again, oldest first. One handed out within
-- PENDING_LEASE seconds is left to the run that holds it.
-- ARGV: 1 prefix, 2 now, 3 JSON {slot, day, mod, hour, days, ttl, tick_key,
--       tick_ttl, gap_s, gap_slots, checks = [{name, ok, status, latency, reason,
--       bucket, suspect, down_slots, up_after, lat = {slots, need, share, tiers}, upt = {n, tiers = [[severity, budget minutes]]},
--       flap = {n, high, low, sev}}]}
--#include checks_lib
local req = cjson.decode(ARGV[3])
local SLOT, TTL = req.slot, req.ttl
local transitions = {}

local function present(v)
  return v ~= nil and v ~= cjson.null
end

-- Nearest rank: the smallest value with at least q of the samples at or below it.
local function quantile(values, q)
  local sorted = {}
  for i, v in ipairs(values) do sorted[i] = v end
  table.sort(sorted)
  local rank = math.max(1, math.min(#sorted, math.ceil(q * #sorted - 1e-9)))
  return sorted[rank]
end

-- The most severe tier crossed; tiers are [severity, threshold], most severe first.
local function tier(tiers, value, above)
  for _, t in ipairs(tiers) do
    if (above and value > t[2]) or ((not above) and value < t[2]) then return t[1] end
  end
  return false
end

local function history(c)
  -- /api/metrics: vigil_checks_up{check} (field = the label value, see lib/metrics.py)
  redis.call("HSET", P .. "metrics:checks_up", c.name, c.ok and "1" or "0")
  for _, kind in ipairs(c.ok and {"seen", "up"} or {"seen"}) do
    local key = ck(kind, c.name, req.day)
    redis.call("SETBIT", key, req.mod, 1)
    redis.call("EXPIRE", key, TTL)
  end
  if present(c.bucket) then
    local key = ck("lat", c.name, req.hour)
    redis.call("HINCRBY", key, tostring(c.bucket), 1)
    redis.call("EXPIRE", key, TTL)
  end
end

local function availability(c, st)
  local gap = st.slot and (SLOT - st.slot) > req.gap_slots
  if c.ok then
    st.ff = nil
    st.oks = (st.oks or 0) + 1
    if st.down and st.oks >= c.up_after then
      -- down_at: the open slot, in state written before down_since was kept
      table.insert(transitions, {kind = "up", name = c.name, since = st.down_since or st.down_at,
        status = c.status, latency = c.latency})
      st.down, st.down_since, st.down_at = nil, nil, nil
    end
    return
  end
  st.oks = 0
  -- Failing "continuously" cannot be claimed across minutes nobody looked at.
  if st.ff == nil or gap then st.ff = SLOT end
  if not st.down and SLOT - st.ff >= c.down_slots then
    -- down_since: the first failure of the streak that opened it, the one instant the
    -- page ("failing since"), the status page ("since") and the resolve ("down since") name
    st.down, st.down_since = true, st.ff
    table.insert(transitions, {kind = "down", name = c.name, since = st.ff,
      status = c.status, reason = c.reason})
  end
end

-- Sustained slowness: the most severe tier that at least `need` runs of the
-- last `slots` minutes (and `share` of those seen) were slower than.
local function latency(c, st)
  if not present(c.lat) then return end
  local ring = {}
  for _, r in ipairs(st.ring or {}) do
    if type(r) == "table" and r[1] > SLOT - c.lat.slots then table.insert(ring, r) end
  end
  if present(c.latency) then table.insert(ring, {SLOT, c.latency}) end
  st.ring = ring
  local values = {}
  for i, r in ipairs(ring) do values[i] = r[2] end
  local sev, limit, slow = false, 0, 0
  for _, t in ipairs(c.lat.tiers) do
    local n = 0
    for _, v in ipairs(values) do
      if v > t[2] then n = n + 1 end
    end
    if n >= c.lat.need and n >= c.lat.share * #values - 1e-9 then
      sev, limit, slow = t[1], t[2], n
      break
    end
  end
  if sev ~= (st.lsev or false) then
    if not sev then
      limit = c.lat.tiers[#c.lat.tiers][2]
      for _, v in ipairs(values) do
        if v > limit then slow = slow + 1 end
      end
    end
    table.insert(transitions, {kind = "latency", name = c.name, severity = sev, value = limit,
      slow = slow, n = #values, median = #values > 0 and quantile(values, 0.5) or 0})
    st.lsev = sev or nil
  end
end

-- The target already broken: downtime seen in the window beyond a tier's budget
-- (minutes the whole window allows). tiers: [severity, budget], most severe first.
local function uptime(c, st)
  if not present(c.upt) then return end
  local seen = window("seen", c.name, req.days, req.mod, c.upt.n)
  local up = window("up", c.name, req.days, req.mod, c.upt.n)
  local sev = false
  for _, t in ipairs(c.upt.tiers) do
    if seen - up > t[2] then sev = t[1]; break end
  end
  if sev ~= (st.usev or false) then
    table.insert(transitions, {kind = "uptime", name = c.name, severity = sev,
      value = seen > 0 and 100 * up / seen or 100, up = up, seen = seen})
    st.usev = sev or nil
  end
end

-- Nagios' flap detection (base/flapping.c): over the last n results, each state
-- change weighs from 0.75 (oldest) to 1.25 (newest); percent = weighted changes
-- * 100 / (n - 1). Flapping from `high`, stable again below `low`. st.fh holds the
-- results, oldest first, as "1" (ok) and "0".
local function flapping(c, st)
  if not present(c.flap) then return end
  local n = c.flap.n
  local h = (st.fh or "") .. (c.ok and "1" or "0")
  if #h > n then h = string.sub(h, #h - n + 1) end
  st.fh = h
  local weighted, changes = 0, 0
  for x = 2, #h do
    if string.sub(h, x, x) ~= string.sub(h, x - 1, x - 1) then
      -- transition x-1 of n-1, counted from the oldest end of a full history
      local pos = (n - #h) + (x - 1)
      weighted = weighted + 0.75 + (pos - 1) * 0.5 / math.max(1, n - 2)
      changes = changes + 1
    end
  end
  local pct = weighted * 100 / (n - 1)
  local was = st.flap == true
  local now_flapping = was
  if not was and pct > c.flap.high then now_flapping = true end
  if was and pct < c.flap.low then now_flapping = false end
  if now_flapping ~= was then
    table.insert(transitions, {kind = "flapping", name = c.name, firing = now_flapping, value = pct,
      changes = changes, n = #h})
    st.flap = now_flapping or nil
  end
end

local function watchdog()
  local prev = tonumber(redis.call("GET", req.tick_key))
  if prev and prev >= NOW then return end -- an older run finishing late changes nothing
  redis.call("SET", req.tick_key, string.format("%.3f", NOW), "EX", req.tick_ttl)
  local flag = ck("gap")
  if prev and NOW - prev > req.gap_s then
    redis.call("SET", flag, tostring(prev), "EX", req.tick_ttl)
    table.insert(transitions, {kind = "gap", firing = true, value = NOW - prev})
  elseif redis.call("DEL", flag) == 1 then
    table.insert(transitions, {kind = "gap", firing = false, value = NOW - (prev or NOW)})
  end
end

local PENDING_LEASE = 45
local pending_key = ck("pending")
local undecided = {}
local flat = redis.call("HGETALL", pending_key)
for i = 1, #flat, 2 do
  local t = cjson.decode(flat[i + 1])
  if NOW - (tonumber(t.at) or 0) >= PENDING_LEASE then table.insert(undecided, t) end
end
table.sort(undecided, function(a, b) return a.id < b.id end)

local state_key = ck("state")
local evaluated, stale = 0, 0
watchdog()
for _, c in ipairs(req.checks) do
  local raw = redis.call("HGET", state_key, c.name)
  local st = raw and cjson.decode(raw) or {}
  if st.slot and SLOT <= st.slot then
    stale = stale + 1 -- this minute was already evaluated (or a newer one was)
  else
    history(c)
    availability(c, st)
    latency(c, st)
    uptime(c, st)
    flapping(c, st)
    if c.suspect then
      redis.call("SADD", ck("suspects"), c.name)
    else
      redis.call("SREM", ck("suspects"), c.name)
    end
    st.slot = SLOT
    st.last = {ok = c.ok, status = c.status, latency = c.latency, reason = c.reason, at = NOW}
    redis.call("HSET", state_key, c.name, cjson.encode(st))
    evaluated = evaluated + 1
  end
end
redis.call("EXPIRE", state_key, TTL)
redis.call("EXPIRE", ck("suspects"), TTL)
for _, t in ipairs(transitions) do
  t.id = string.format("%012d:%s:%s", SLOT, t.kind, t.name or "")
  table.insert(undecided, t)
end
for _, t in ipairs(undecided) do
  t.at = NOW
  redis.call("HSET", pending_key, t.id, cjson.encode(t))
end
if #undecided > 0 then redis.call("EXPIRE", pending_key, TTL) end
return cjson.encode({evaluated = evaluated, stale = stale, transitions = undecided})
