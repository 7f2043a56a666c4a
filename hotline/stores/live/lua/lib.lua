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

-- One read of everything the eligibility rule needs about a counselor (one HMGET, one ZSCORE,
-- one HGET), so a scan over many cases costs no more Redis calls per case.
local function staff_of(aid)
  local a = redis.call('HMGET', k('agent:' .. aid), 'status', 'start', 'end', 'max', 'langs',
                       'chans', 'call')
  return {
    status = a[1], s = tonumber(a[2] or '0'), e = tonumber(a[3] or '0'),
    max = tonumber(a[4] or '0'), langs = a[5] or '', chans = a[6] or '', call = a[7],
    hb = tonumber(redis.call('ZSCORE', k('presence'), aid) or '0'),
    load = tonumber(redis.call('HGET', k('load'), aid) or '0'),
  }
end

-- Same rule as hotline.domain.routing.why_not over a snapshot from staff_of; a reason code or
-- nil (eligible). Pure: no Redis calls.
local function why_not_staff(a, chan, lang, skip_capacity)
  if a.status ~= 'available' then return 'status' end
  if NOW < a.s or NOW >= a.e then return 'shift' end
  if NOW >= a.e - NO_NEW then return 'ending' end
  if a.hb < NOW - TTL then return 'absent' end
  if lang ~= '' and not string.find(a.langs, '|' .. lang .. '|', 1, true) then
    return 'language'
  end
  if chan ~= '' and not string.find(a.chans, '|' .. chan .. '|', 1, true) then
    return 'channel'
  end
  if a.call == '1' then return 'on_call' end
  if skip_capacity then return nil end
  if chan == 'voice' then
    if a.load > 0 then return 'capacity' end
  elseif a.load >= a.max then
    return 'capacity'
  end
  return nil
end

local function why_not(aid, chan, lang, skip_capacity)
  return why_not_staff(staff_of(aid), chan, lang, skip_capacity)
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

-- A case's queue score from its meta: urgency rank, then enqueue time (queue_score in
-- hotline.domain.conversation).
local function score_of(m)
  local urg, enq = string.match(m, '^[^|]*|[^|]*|([^|]*)|([^|]*)')
  local rank = ({critical = 0, high = 1, normal = 2})[urg] or 2
  return rank * 10000000000000 + tonumber(enq)
end

local function requeue(id, m)
  -- Back at the old position: the score is rebuilt from the stored urgency and enqueue time.
  redis.call('ZADD', k('queue'), score_of(m), id)
end
