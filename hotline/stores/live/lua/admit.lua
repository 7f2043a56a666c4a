-- A new conversation joins the queue and its first events go out, in one call (inbox.receive;
-- the same commands as a MULTI pipeline cost this process twice the CPU: bench/README.md).
-- ARGV[5] conversation id, ARGV[6] its queue meta, ARGV[7] its rank score, ARGV[8] the event
-- stream's approximate length cap, ARGV[9] the key of the address tag it was opened from ('' for
-- none), ARGV[10] the tag, ARGV[11] the tag's TTL (s), ARGV[12] a key to read and delete in the
-- same call ('' for none: a channel's `claim`), ARGV[13..] events (JSON), appended in order.
-- Returns the claimed key's value (nil when there was none).
local id = ARGV[5]
redis.call('HSET', k('queue:meta'), id, ARGV[6])
redis.call('ZADD', k('queue'), ARGV[7], id)
for i = 13, #ARGV do
  redis.call('XADD', k('events'), 'MAXLEN', '~', ARGV[8], '*', 'e', ARGV[i])
end
if ARGV[9] ~= '' then
  redis.call('SET', ARGV[9], ARGV[10], 'EX', ARGV[11])
end
if ARGV[12] ~= '' then
  return redis.call('GETDEL', ARGV[12])
end
return false
