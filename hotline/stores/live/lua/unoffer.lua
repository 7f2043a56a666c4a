-- An offer of case ARGV[5] ends unanswered or declined (ARGV[6]: the counselor, or '' for
-- whoever holds it, used on timeout). The case goes back to its old queue position.
-- Returns {"ok", counselor, misses} | {"no", "gone"}
local id, who = ARGV[5], ARGV[6]
local aid = redis.call('HGET', k('offer'), id)
if not aid or (who ~= '' and aid ~= who) then return {'no', 'gone'} end
redis.call('HDEL', k('offer'), id)
redis.call('ZREM', k('offers'), id)
local n = redis.call('HINCRBY', k('load'), aid, -1)
if n <= 0 then redis.call('HDEL', k('load'), aid) end
local m, chan = meta_of(id)
if m then requeue(id, m) end
if chan == 'voice' then redis.call('HSET', k('agent:' .. aid), 'call', '0') end
redis.call('SADD', k('declined:' .. id), aid)
redis.call('EXPIRE', k('declined:' .. id), tonumber(ARGV[7]))
local misses = redis.call('HINCRBY', k('misses'), id, 1)
return {'ok', aid, misses}
