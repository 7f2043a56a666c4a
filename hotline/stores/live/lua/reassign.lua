-- A lead (or a handover) gives case ARGV[5] to counselor ARGV[6]. ARGV[7] = "1" skips only the
-- capacity check (a lead's override, with a reason recorded in SQL); shift, presence, language
-- and channel still apply. Works on waiting, offered and active cases.
-- Returns {"ok", previous holder or ""} | {"no", reason}
local id, aid, override = ARGV[5], ARGV[6], ARGV[7] == '1'
local m, chan, lang = meta_of(id)
if not m then return {'no', 'gone'} end
local prev = redis.call('HGET', k('owner'), id)
if prev == aid then return {'no', 'same'} end
local why = why_not(aid, chan, lang, override)
if why then return {'no', why} end
if prev then
  free(prev, chan)
else
  local offered = redis.call('HGET', k('offer'), id)
  if offered then
    redis.call('HDEL', k('offer'), id)
    redis.call('ZREM', k('offers'), id)
    free(offered, chan)
  end
end
take_for(id, aid, chan)
return {'ok', prev or ''}
