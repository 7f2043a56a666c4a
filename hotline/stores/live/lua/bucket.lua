-- Flood limits: token buckets (GCRA) checked and taken in one step (docs/limits.md).
-- KEYS: the buckets, then the notice key if ARGV[2] > 0.
-- ARGV: number of buckets, notice ttl (ms), then burst and interval (ms) of each bucket.
-- Every bucket is taken or none is. Returns {wait, first}: wait 0 when let through, else the
-- ms until it would be; first 1 when this refusal is the first since the notice key was last
-- set (the calm answer goes out once, not once per message of a flood).
local n = tonumber(ARGV[1])
local notice_ttl = tonumber(ARGV[2])
-- The server's clock: every instance counts on the same one.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
local tats = {}
for i = 1, n do
  local burst = tonumber(ARGV[1 + 2 * i])
  local interval = tonumber(ARGV[2 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  tats[i] = tat + interval
  local over = tats[i] - burst * interval - now
  if over > wait then wait = over end
end
if wait == 0 then
  -- A bucket's key lives until the bucket is full again: an idle sender holds no key.
  for i = 1, n do
    redis.call('SET', KEYS[i], string.format('%d', tats[i]), 'PX',
               string.format('%d', tats[i] - now))
  end
end
local first = 0
if wait > 0 and notice_ttl > 0 then
  local ttl = string.format('%d', math.max(wait, notice_ttl))
  if redis.call('SET', KEYS[n + 1], '1', 'NX', 'PX', ttl) then first = 1 end
end
return {wait, first}
