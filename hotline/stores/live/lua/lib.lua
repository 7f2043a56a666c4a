-- Shared by every routing script (prepended when scripts are loaded).
-- ARGV[1] key base "{prefix}:", ARGV[2] now (ms), ARGV[3] no-new-offers margin (ms),
-- ARGV[4] presence TTL (ms). Script-specific arguments start at ARGV[5].
-- All keys share the {prefix} hash tag; KEYS[1] (the queue) routes the call on a cluster.
local B = ARGV[1]
local NOW = tonumber(ARGV[2])
local NO_NEW = tonumber(ARGV[3])
local TTL = tonumber(ARGV[4])

local function k(name) return B .. name end

-- meta = "channel|language|urgency|enqueued_ms|needs"
local function meta_of(id)
  local m = redis.call('HGET', k('queue:meta'), id)
  if not m then return nil end
  local ch, lang = string.match(m, '^([^|]*)|([^|]*)|')
  return m, ch or '', lang or ''
end

-- Same rule as hotline.domain.routing.why_not; returns a reason code or nil (eligible).
local function why_not(aid, chan, lang, skip_capacity)
  local a = redis.call('HMGET', k('agent:' .. aid), 'status', 'start', 'end', 'max', 'langs',
                       'chans', 'call')
  if a[1] ~= 'available' then return 'status' end
  local s, e = tonumber(a[2] or '0'), tonumber(a[3] or '0')
  if NOW < s or NOW >= e then return 'shift' end
  if NOW >= e - NO_NEW then return 'ending' end
  local hb = tonumber(redis.call('ZSCORE', k('presence'), aid) or '0')
  if hb < NOW - TTL then return 'absent' end
  if lang ~= '' and not string.find(a[5] or '', '|' .. lang .. '|', 1, true) then
    return 'language'
  end
  if chan ~= '' and not string.find(a[6] or '', '|' .. chan .. '|', 1, true) then
    return 'channel'
  end
  if a[7] == '1' then return 'on_call' end
  if skip_capacity then return nil end
  local load = tonumber(redis.call('HGET', k('load'), aid) or '0')
  if chan == 'voice' then
    if load > 0 then return 'capacity' end
  elseif load >= tonumber(a[4] or '0') then
    return 'capacity'
  end
  return nil
end

local function take_for(id, aid, chan)
  redis.call('ZREM', k('queue'), id)
  redis.call('HSET', k('owner'), id, aid)
  redis.call('HINCRBY', k('load'), aid, 1)
  if chan == 'voice' then redis.call('HSET', k('agent:' .. aid), 'call', '1') end
end

local function free(aid, chan)
  local n = redis.call('HINCRBY', k('load'), aid, -1)
  if n <= 0 then redis.call('HDEL', k('load'), aid) end
  if chan == 'voice' then redis.call('HSET', k('agent:' .. aid), 'call', '0') end
  redis.call('HSET', k('agent:' .. aid), 'idle', NOW)
end

local function requeue(id, m)
  -- Back at the old position: the score is rebuilt from the stored urgency and enqueue time.
  local urg, enq = string.match(m, '^[^|]*|[^|]*|([^|]*)|([^|]*)')
  local rank = ({critical = 0, high = 1, normal = 2})[urg] or 2
  redis.call('ZADD', k('queue'), rank * 10000000000000 + tonumber(enq), id)
end
