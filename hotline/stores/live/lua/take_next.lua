-- Pull mode: give ARGV[5] (counselor) the best waiting case they may take.
-- Returns {"ok", id, meta} | {"no", reason}
local aid, limit = ARGV[5], tonumber(ARGV[6])
local base = why_not(aid, '', '', true)
if base then return {'no', base} end
local ids = redis.call('ZRANGE', k('queue'), 0, limit - 1)
if #ids == 0 then return {'no', 'empty'} end
local last = 'empty'
for _, id in ipairs(ids) do
  local m, chan, lang = meta_of(id)
  if m then
    local why = why_not(aid, chan, lang, false)
    if not why then
      take_for(id, aid, chan)
      return {'ok', id, m}
    end
    last = why
  end
end
return {'no', last}
