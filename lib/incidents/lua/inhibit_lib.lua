-- Inhibition state (lib/incidents/inhibit.py says what the rules mean), inlined
-- after incident_lib with --#include. A signal carries `inhibit`:
--   src = [[rule, equal values, hold seconds, also a target]], tgt = [[rule, equal values, also a source]]
-- Keys: inh:src:<rule>:<eq>   hash  source key -> "1" if it also matches the target side
--       inh:grace:<rule>:<eq> "until|source key|both" after the last source resolved
--       inh:tgt:<rule>:<eq>   set   muted target keys
--       inh:muted             hash  target key -> the muted signal (JSON)
--       inh:release           zset  target key -> when the escalation cron may release it

local function inh_parts(sig, side)
  local v = sig.inhibit
  if v == nil or v == cjson.null then return {} end
  return v[side] or {}
end

-- A firing source: it mutes its rules' targets from now on.
local function inhibit_register(sig)
  for _, s in ipairs(inh_parts(sig, "src")) do
    local key = k("inh", "src", s[1], s[2])
    redis.call("HSET", key, sig.key, s[4] and "1" or "0")
    redis.call("EXPIRE", key, RETAIN)
  end
end

-- Who mutes `sig` now: the source key and, during a hold, until when (nil: a firing source).
local function muted_by(sig)
  for _, t in ipairs(inh_parts(sig, "tgt")) do
    local flat = redis.call("HGETALL", k("inh", "src", t[1], t[2]))
    for i = 1, #flat, 2 do
      -- Never itself; a two-sided alert only by sources that are not targets too.
      if flat[i] ~= sig.key and not (t[3] and flat[i + 1] == "1") then return flat[i], nil end
    end
  end
  for _, t in ipairs(inh_parts(sig, "tgt")) do
    local g = redis.call("GET", k("inh", "grace", t[1], t[2]))
    if g then
      local untl, src, both = string.match(g, "^([^|]+)|(.*)|([01])$")
      if untl and tonumber(untl) > NOW and src ~= sig.key and not (t[3] and both == "1") then
        return src, tonumber(untl)
      end
    end
  end
  return nil, nil
end

-- Keep a muted target (the most severe version seen) for its release.
local function inhibit_mute(sig, by, untl)
  local raw = redis.call("HGET", k("inh", "muted"), sig.key)
  local keep = sig
  if raw then
    local old = cjson.decode(raw)
    if old.severity < sig.severity then keep.severity = old.severity end
  end
  redis.call("HSET", k("inh", "muted"), sig.key, cjson.encode(keep))
  redis.call("EXPIRE", k("inh", "muted"), RETAIN)
  for _, t in ipairs(inh_parts(sig, "tgt")) do
    redis.call("SADD", k("inh", "tgt", t[1], t[2]), sig.key)
    redis.call("EXPIRE", k("inh", "tgt", t[1], t[2]), RETAIN)
  end
  if untl then
    redis.call("ZADD", k("inh", "release"), untl, sig.key)
  else
    redis.call("ZREM", k("inh", "release"), sig.key)
  end
  redis.call("HINCRBY", k("metrics", "inhibited"), sig.severity, 1)
  return {reason = "INHIBITED", detail = "muted by " .. by}
end

-- Forget a muted target (it resolved, or it is being released). 1 if it was muted.
local function inhibit_forget(sig)
  redis.call("ZREM", k("inh", "release"), sig.key)
  for _, t in ipairs(inh_parts(sig, "tgt")) do
    redis.call("SREM", k("inh", "tgt", t[1], t[2]), sig.key)
  end
  return redis.call("HDEL", k("inh", "muted"), sig.key)
end

-- A source resolved: its targets are released after the rule's hold.
local function inhibit_resolve(sig)
  for _, s in ipairs(inh_parts(sig, "src")) do
    if redis.call("HDEL", k("inh", "src", s[1], s[2]), sig.key) == 1 then
      local untl = NOW + s[3]
      redis.call("SET", k("inh", "grace", s[1], s[2]),
        string.format("%.3f", untl) .. "|" .. sig.key .. "|" .. (s[4] and "1" or "0"), "EX", math.ceil(s[3]) + 86400)
      for _, target in ipairs(redis.call("SMEMBERS", k("inh", "tgt", s[1], s[2]))) do
        redis.call("ZADD", k("inh", "release"), untl, target)
      end
    end
  end
end
