-- Counselor ARGV[6] accepts the offer of case ARGV[5]; the reserved capacity becomes theirs.
-- Returns {"ok", meta} | {"no", "gone"}
local id, aid = ARGV[5], ARGV[6]
if redis.call('HGET', k('offer'), id) ~= aid then return {'no', 'gone'} end
local m, chan = meta_of(id)
redis.call('HDEL', k('offer'), id)
redis.call('ZREM', k('offers'), id)
redis.call('HSET', k('owner'), id, aid)
if chan == 'voice' then redis.call('HSET', k('agent:' .. aid), 'call', '1') end
return {'ok', m or ''}
