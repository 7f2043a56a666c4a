-- Give a counselor the best waiting conversation in one of their languages, atomically.
-- KEYS: queue, queue_meta, owner, load
-- ARGV: counselor_id, capacity, scan_limit, languages ("|ko|en|")
-- Returns {"ok", id, meta} | {"full"} | {"empty"}
local load = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or '0')
if load >= tonumber(ARGV[2]) then return {'full'} end
local ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)
for _, id in ipairs(ids) do
  local meta = redis.call('HGET', KEYS[2], id)
  local lang = meta and string.match(meta, '^[^|]*|([^|]*)|') or ''
  if string.find(ARGV[4], '|' .. lang .. '|', 1, true) then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HDEL', KEYS[2], id)
    redis.call('HSET', KEYS[3], id, ARGV[1])
    redis.call('HINCRBY', KEYS[4], ARGV[1], 1)
    return {'ok', id, meta or ''}
  end
end
return {'empty'}
