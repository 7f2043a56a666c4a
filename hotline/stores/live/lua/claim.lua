-- Give one named waiting conversation to a counselor, atomically.
-- KEYS: queue, queue_meta, owner, load
-- ARGV: conversation_id, counselor_id, capacity
-- Returns {"ok", meta} | {"gone"} | {"full"}
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {'gone'} end
local load = tonumber(redis.call('HGET', KEYS[4], ARGV[2]) or '0')
if load >= tonumber(ARGV[3]) then return {'full'} end
local meta = redis.call('HGET', KEYS[2], ARGV[1]) or ''
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[4], ARGV[2], 1)
return {'ok', meta}
