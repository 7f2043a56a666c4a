-- A victim's wait status in one call: place.lua's answer (prepended as the function place())
-- and every counselor's routing state, as LiveStore.staff_states reads them: {meta, place,
-- ids, one flat HGETALL per id, presence as member/score pairs, load as field/value pairs};
-- {} when the case is neither waiting nor offered.
local found = place()
if #found == 0 then return {} end
local ids = redis.call('SMEMBERS', k('agents'))
local hashes = {}
for i, aid in ipairs(ids) do hashes[i] = redis.call('HGETALL', k('agent:' .. aid)) end
return {found[1], found[2], ids, hashes,
        redis.call('ZRANGE', k('presence'), 0, -1, 'WITHSCORES'), redis.call('HGETALL', k('load'))}
