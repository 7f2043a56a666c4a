-- Case ARGV[5] joins the queue with meta ARGV[6] and score ARGV[7] (re-adding keeps one
-- entry). One script call: meta and queue change together, in one round trip.
redis.call('HSET', k('queue:meta'), ARGV[5], ARGV[6])
redis.call('ZADD', k('queue'), ARGV[7], ARGV[5])
return 1
