-- The coverage of language/channel groups (LiveStore.coverage), worked out here so that a
-- routing pass's coverage check does not read and decode every counselor (1,000 at a surge,
-- each second). ARGV[5..]: groups as "language|channel". For each, {group, how many serve it
-- now (routing.serving: on shift, present, speaking it, whether or not at capacity), 1 if one
-- of them has room else 0}: the rule of routing.serving, over why_not_staff.
local groups = {}
for i = 5, #ARGV do
  local lang, chan = string.match(ARGV[i], '^([^|]*)|(.*)$')
  groups[#groups + 1] = {ARGV[i], lang, chan, 0, 0}
end
if #groups == 0 then return {} end
for _, aid in ipairs(redis.call('SMEMBERS', k('agents'))) do
  local a = staff_of(aid)
  -- Not available, off shift, absent or on a call: serves no group (the checks that do not
  -- depend on the group, once).
  if why_not_staff(a, '', '', true) == nil then
    for _, g in ipairs(groups) do
      if why_not_staff(a, g[3], g[2], true) == nil then
        g[4] = g[4] + 1
        if g[5] == 0 and why_not_staff(a, g[3], g[2], false) == nil then g[5] = 1 end
      end
    end
  end
end
local out = {}
for _, g in ipairs(groups) do out[#out + 1] = {g[1], g[4], g[5]} end
return out
