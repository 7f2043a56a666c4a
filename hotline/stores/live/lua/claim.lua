-- Give one named waiting case (ARGV[5]) to a counselor (ARGV[6]).
-- Returns {"ok", meta} | {"no", reason}
local id, aid = ARGV[5], ARGV[6]
if not redis.call('ZSCORE', k('queue'), id) then return {'no', 'gone'} end
local m, chan, lang = meta_of(id)
if not m then return {'no', 'gone'} end
local why = why_not(aid, chan, lang, false)
if why then return {'no', why} end
take_for(id, aid, chan)
return {'ok', m}
