-- Count one login attempt on every throttle key, or on none if any key must still wait.
-- The rule of hotline/domain/throttle.py pick and reserve_all (a parity test keeps them in step).
-- KEYS: throttle hashes {n = attempts counted, next = earliest next attempt (ms)}.
-- ARGV[1] now (ms), ARGV[2] forget after (ms), ARGV[3] "1" when the last key is the `fresh`
-- one (it stands in for the key before it when KEYS[1] has nothing counted, else is unused),
-- ARGV[4..] the policy's delay after 1, 2, ... counted attempts (ms); the last entry holds for
-- every later count.
-- Returns {wait in ms (0: counted), 1 if the fresh key was used else 0}.
local now = tonumber(ARGV[1])
local keys = {}
local used_fresh = 0
if ARGV[3] == '1' then
  local fresh = KEYS[#KEYS]
  local first = tonumber(redis.call('HGET', KEYS[1], 'n') or 0)
  for i = 1, #KEYS - 2 do keys[i] = KEYS[i] end
  if first > 0 then
    keys[#KEYS - 1] = KEYS[#KEYS - 1]
  else
    keys[#KEYS - 1] = fresh
    used_fresh = 1
  end
else
  keys = KEYS
end
local wait = 0
for _, key in ipairs(keys) do
  local nxt = tonumber(redis.call('HGET', key, 'next') or 0)
  if nxt - now > wait then wait = nxt - now end
end
if wait > 0 then return {wait, used_fresh} end
local last = #ARGV
for _, key in ipairs(keys) do
  local n = redis.call('HINCRBY', key, 'n', 1)
  local delay = tonumber(ARGV[math.min(3 + n, last)])
  redis.call('HSET', key, 'next', string.format('%d', now + delay))
  redis.call('PEXPIRE', key, ARGV[2])
end
return {0, used_fresh}
