-- Pull mode: give ARGV[5] (counselor) the best waiting case they may take.
-- The counselor is read once; the queue is read in growing chunks (8, 32, 128, ...) with one
-- HMGET of metadata per chunk, so the usual claim (a match near the head) reads a few cases,
-- and a scan past 200 cases in other languages costs 8 Redis calls, not 2 per case.
-- Returns {"ok", id, meta} | {"no", reason}
local aid, limit = ARGV[5], tonumber(ARGV[6])
local a = staff_of(aid)
local base = why_not_staff(a, '', '', true)
if base then return {'no', base} end
local last = 'empty'
local seen = {}
local start, size = 0, 8
while start < limit do
  local stop = math.min(start + size, limit) - 1
  local ids = redis.call('ZRANGE', k('queue'), start, stop)
  if #ids == 0 then break end
  -- Full for every kind of case (a chat needs load < max, a call needs load 0): no scan.
  if a.load > 0 and a.load >= a.max then return {'no', 'capacity'} end
  local metas = redis.call('HMGET', k('queue:meta'), unpack(ids))
  for i, id in ipairs(ids) do
    local m = metas[i]
    if m then
      -- The answer depends only on "channel|language": a few distinct pairs in any queue.
      local cl = string.match(m, '^[^|]*|[^|]*|') or '||'
      local why = seen[cl]
      if why == nil then
        local chan, lang = string.match(cl, '^([^|]*)|([^|]*)|')
        why = why_not_staff(a, chan, lang, false) or false
        seen[cl] = why
      end
      if not why then
        take_for(id, aid, (string.match(cl, '^([^|]*)|')))
        return {'ok', id, m}
      end
      last = why
    end
  end
  if #ids <= stop - start then break end
  start, size = stop + 1, size * 4
end
return {'no', last}
