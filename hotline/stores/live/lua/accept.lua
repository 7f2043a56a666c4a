-- Counselor ARGV[6] accepts the offer of case ARGV[5]; the reserved capacity becomes theirs.
-- The offer reserved the capacity (a voice offer already set the call flag), but the rest of
-- the rule must still hold now: on shift, present, available, language and channel.
-- Returns {"ok", meta} | {"no", "gone" | reason}
local id, aid = ARGV[5], ARGV[6]
if redis.call('HGET', k('offer'), id) ~= aid then return {'no', 'gone'} end
local m, chan, lang = meta_of(id)
local why = why_not(aid, chan or '', lang or '', true)
if why and why ~= 'on_call' then return {'no', why} end
redis.call('HDEL', k('offer'), id)
redis.call('ZREM', k('offers'), id)
redis.call('HSET', k('owner'), id, aid)
if chan == 'voice' then redis.call('HSET', k('agent:' .. aid), 'call', '1') end
return {'ok', m or ''}
