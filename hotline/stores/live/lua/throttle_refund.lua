-- A counted login attempt succeeded: take it off every key (hotline/domain/throttle.py refund).
-- A key lost meanwhile (a Redis that restarted empty) is not made again, so none lacks a TTL.
-- KEYS: throttle hashes, as throttle_reserve.lua.
for _, key in ipairs(KEYS) do
  local n = tonumber(redis.call('HGET', key, 'n') or 0)
  if n > 0 then redis.call('HSET', key, 'n', n - 1) end
end
return 0
