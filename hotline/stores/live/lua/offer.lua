-- Reserve waiting case ARGV[5] for counselor ARGV[6] until ARGV[7] (ms).
-- Returns {"ok"} | {"no", reason}
local id, aid, deadline = ARGV[5], ARGV[6], ARGV[7]
if not redis.call('ZSCORE', k('queue'), id) then return {'no', 'gone'} end
if redis.call('SISMEMBER', k('declined:' .. id), aid) == 1 then return {'no', 'declined'} end
local m, chan, lang = meta_of(id)
if not m then return {'no', 'gone'} end
local why = why_not(aid, chan, lang, false)
if why then return {'no', why} end
redis.call('ZREM', k('queue'), id)
redis.call('HSET', k('offer'), id, aid)
redis.call('ZADD', k('offers'), deadline, id)
redis.call('HINCRBY', k('load'), aid, 1)
-- A call offered is a call reserved: nothing else may be taken or offered meanwhile.
if chan == 'voice' then redis.call('HSET', k('agent:' .. aid), 'call', '1') end
return {'ok'}
