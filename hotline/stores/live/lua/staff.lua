-- Every counselor's routing state in one reply (LiveStore.staff_states): for each id in the
-- staff set, {id, its hash as field/value pairs, heartbeat, load}. One command: a MULTI of
-- 1,000 HGETALLs cost the client a reply parse per command (a read of 1,000 took 76 ms
-- against 34 ms, most of the rest being the decoding, done in parts by LiveStore).
-- ARGV[5] "free": only those who could take some case now (available, on shift, present,
-- not on a call, with room): a routing pass that only offers reads them, not the floor.
local free_only = ARGV[5] == 'free'
local out = {}
for _, aid in ipairs(redis.call('SMEMBERS', k('agents'))) do
  local keep = true
  if free_only then
    local a = staff_of(aid)
    keep = why_not_staff(a, '', '', true) == nil and not (a.load > 0 and a.load >= a.max)
  end
  if keep then
    out[#out + 1] = {aid, redis.call('HGETALL', k('agent:' .. aid)),
                     redis.call('ZSCORE', k('presence'), aid) or '0',
                     redis.call('HGET', k('load'), aid) or '0'}
  end
end
return out
