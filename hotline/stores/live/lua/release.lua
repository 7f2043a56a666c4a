-- A counselor lets go of a conversation (closed or returned): free one unit of their load.
-- KEYS: owner, load
-- ARGV: conversation_id
-- Returns the counselor id that held it, or false.
local holder = redis.call('HGET', KEYS[1], ARGV[1])
if not holder then return false end
redis.call('HDEL', KEYS[1], ARGV[1])
local n = redis.call('HINCRBY', KEYS[2], holder, -1)
if n <= 0 then redis.call('HDEL', KEYS[2], holder) end
return holder
