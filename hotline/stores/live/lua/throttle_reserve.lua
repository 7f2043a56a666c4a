-- Count one login attempt on throttle keys: the rule of hotline/domain/throttle.py pick and
-- reserve_all (a parity test keeps them in step).
-- KEYS: throttle hashes {n = attempts counted, next = earliest next attempt (ms)}.
-- ARGV[1] now (ms); ARGV[2] forget after (ms); ARGV[3] flags:
--   "g": KEYS[1] is a gate: waited for, never counted here;
--   "f": the last key is the fresh one: it stands in for the key before it when the gate has
--        nothing counted, else it is unused;
--   "c": count on every key whatever its wait (a failure known after the fact);
-- ARGV[4..] the policy's delay after 1, 2, ... counted attempts (ms); the last entry holds
-- for every later count.
-- Returns {wait in ms (0: counted), 1 if the fresh key was used else 0}.
local now = tonumber(ARGV[1])
local flags = ARGV[3]
local gated = string.find(flags, 'g', 1, true) ~= nil
local first = gated and 2 or 1
local last_key = #KEYS
local used_fresh = 0
local keys = {}
if string.find(flags, 'f', 1, true) then
  last_key = #KEYS - 1
  if tonumber(redis.call('HGET', KEYS[1], 'n') or 0) == 0 then
    last_key = #KEYS - 2
    used_fresh = 1
  end
end
for i = first, last_key do keys[#keys + 1] = KEYS[i] end
if used_fresh == 1 then keys[#keys + 1] = KEYS[#KEYS] end
if not string.find(flags, 'c', 1, true) then
  local waits = {unpack(keys)}
  if gated then waits[#waits + 1] = KEYS[1] end
  local wait = 0
  for _, key in ipairs(waits) do
    local nxt = tonumber(redis.call('HGET', key, 'next') or 0)
    if nxt - now > wait then wait = nxt - now end
  end
  if wait > 0 then return {wait, used_fresh} end
end
local last = #ARGV
for _, key in ipairs(keys) do
  local n = redis.call('HINCRBY', key, 'n', 1)
  local delay = tonumber(ARGV[math.min(3 + n, last)])
  redis.call('HSET', key, 'next', string.format('%d', now + delay))
  redis.call('PEXPIRE', key, ARGV[2])
end
return {0, used_fresh}
