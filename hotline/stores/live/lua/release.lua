-- The holder lets go of case ARGV[5]: closed (ARGV[6] = "close") or back to the queue at its
-- old position (ARGV[6] = "requeue"). Returns the counselor who held it, or false.
local id, how = ARGV[5], ARGV[6]
local aid = redis.call('HGET', k('owner'), id)
local m, chan = meta_of(id)
if aid then
  redis.call('HDEL', k('owner'), id)
  free(aid, chan)
end
if how == 'requeue' and m then
  local offered = redis.call('HGET', k('offer'), id)
  if offered then
    redis.call('HDEL', k('offer'), id)
    redis.call('ZREM', k('offers'), id)
    free(offered, chan)
  end
  requeue(id, m)
  redis.call('DEL', k('declined:' .. id))
  redis.call('HDEL', k('misses'), id)
elseif how == 'close' then
  redis.call('ZREM', k('queue'), id)
  local offered = redis.call('HGET', k('offer'), id)
  if offered then
    redis.call('HDEL', k('offer'), id)
    redis.call('ZREM', k('offers'), id)
    free(offered, chan)
  end
  redis.call('HDEL', k('queue:meta'), id)
  redis.call('HDEL', k('misses'), id)
  redis.call('DEL', k('declined:' .. id))
end
return aid or false
