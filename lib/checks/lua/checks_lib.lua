-- Shared helpers for the check scripts (inlined with --#include).
-- History keys: bitmaps of minutes per UTC day (bit = minute of day) and an
-- hourly latency histogram (hash: bucket index -> count).
local P = ARGV[1]
local NOW = tonumber(ARGV[2])
local MINUTES_PER_DAY = 1440

local function ck(...)
  return P .. "checks:" .. table.concat({...}, ":")
end

-- Bits set in positions [lo, hi] (0 = most significant) of one byte of `key`.
local function byte_bits(key, index, lo, hi)
  local s = redis.call("GETRANGE", key, index, index)
  if s == "" then return 0 end
  local b, n = string.byte(s), 0
  for pos = lo, hi do
    n = n + bit.band(bit.rshift(b, 7 - pos), 1)
  end
  return n
end

-- Bits set in bit offsets [from, to] of `key` (BITCOUNT ranges are bytes before Redis 7).
local function count_bits(key, from, to)
  if from > to then return 0 end
  local fb, tb = math.floor(from / 8), math.floor(to / 8)
  if fb == tb then return byte_bits(key, fb, from % 8, to % 8) end
  local n, first, last = 0, fb, tb
  if from % 8 ~= 0 then
    n = n + byte_bits(key, fb, from % 8, 7)
    first = fb + 1
  end
  if to % 8 ~= 7 then
    n = n + byte_bits(key, tb, 0, to % 8)
    last = tb - 1
  end
  if first <= last then n = n + redis.call("BITCOUNT", key, first, last) end
  return n
end

-- Minutes marked in `kind` ("up" or "seen") over the last n days ending at
-- minute `mod` of days[1] (today): today up to now, n-1 whole days, and the
-- part of the day n days ago after `mod`. days is newest first, n+1 long.
local function window(kind, name, days, mod, n)
  local total = count_bits(ck(kind, name, days[1]), 0, mod)
  for i = 2, n do
    total = total + redis.call("BITCOUNT", ck(kind, name, days[i]))
  end
  if days[n + 1] then
    total = total + count_bits(ck(kind, name, days[n + 1]), mod + 1, MINUTES_PER_DAY - 1)
  end
  return total
end
