-- The place of case ARGV[5] among every unassigned case, queued or offered, 1-based and in
-- the order LiveStore.unassigned gives: {meta, place}, or {} when it is neither. One call,
-- so the answer is consistent while offers come and go.
local id = ARGV[5]
local m = redis.call('HGET', k('queue:meta'), id)
if not m then return {} end
local score = score_of(m)
local rank = redis.call('ZRANK', k('queue'), id)
if not rank then
  if redis.call('HEXISTS', k('offer'), id) == 0 then return {} end
  rank = redis.call('ZCOUNT', k('queue'), '-inf', string.format('(%d', score))
end
local ahead = 0
for _, other in ipairs(redis.call('HKEYS', k('offer'))) do
  if other ~= id then
    local om = redis.call('HGET', k('queue:meta'), other)
    if om and score_of(om) < score then ahead = ahead + 1 end
  end
end
return {m, rank + ahead + 1}
