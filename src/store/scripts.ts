/**
 * Lua run atomically in Redis. Decisions live in TypeScript (src/domain);
 * these scripts only apply them, with compare-and-set so that concurrent
 * writers (a worker's dial result and the provider's callback) never lose
 * each other's updates.
 */

/**
 * Stores a batch of imported rows.
 * KEYS: rows, st, phones, due, counts, rejseen, campaign, dnc lists...
 * ARGV: uploadId, dueAt, records JSON [{k:'c', row, e}, {k:'r', row, h, m}]
 * Returns [added, duplicate, dnc, invalid, already].
 */
export const IMPORT_BATCH = `
local upload = ARGV[1]
local dueAt = tonumber(ARGV[2])
local recs = cjson.decode(ARGV[3])
local added, dup, dnc, invalid, already = 0, 0, 0, 0, 0
local function nextIdx()
  return redis.call('HINCRBY', KEYS[7], 'total', 1) - 1
end
for _, r in ipairs(recs) do
  if r.k == 'c' then
    local seen = redis.call('HGET', KEYS[3], r.e)
    if seen then
      local sep = string.find(seen, ':', 1, true)
      if string.sub(seen, 1, sep - 1) == upload then
        local idx = nextIdx()
        redis.call('HSET', KEYS[1], idx, r.row)
        redis.call('HSET', KEYS[2], idx, cjson.encode({s = 'duplicate', n = 0, p = 0, e = 'same number as line ' .. string.sub(seen, sep + 1)}))
        redis.call('HINCRBY', KEYS[5], 'duplicate', 1)
        redis.call('HINCRBY', KEYS[5], '_final', 1)
        dup = dup + 1
      else
        already = already + 1
      end
    else
      local onDnc = false
      for i = 8, #KEYS do
        if redis.call('SISMEMBER', KEYS[i], r.e) == 1 then onDnc = true break end
      end
      local idx = nextIdx()
      redis.call('HSET', KEYS[1], idx, r.row)
      redis.call('HSET', KEYS[3], r.e, upload .. ':' .. r.l)
      if onDnc then
        redis.call('HSET', KEYS[2], idx, cjson.encode({s = 'dnc', n = 0, p = 0, e = 'number is on a do-not-call list'}))
        redis.call('HINCRBY', KEYS[5], 'dnc', 1)
        redis.call('HINCRBY', KEYS[5], '_final', 1)
        dnc = dnc + 1
      else
        redis.call('ZADD', KEYS[4], dueAt, idx)
        redis.call('HINCRBY', KEYS[5], 'pending', 1)
        added = added + 1
      end
    end
  else
    if redis.call('SADD', KEYS[6], r.h) == 0 then
      already = already + 1
    else
      local idx = nextIdx()
      redis.call('HSET', KEYS[1], idx, r.row)
      redis.call('HSET', KEYS[2], idx, cjson.encode({s = 'invalid', n = 0, p = 0, e = r.m}))
      redis.call('HINCRBY', KEYS[5], 'invalid', 1)
      redis.call('HINCRBY', KEYS[5], '_final', 1)
      invalid = invalid + 1
    end
  end
end
return {added, dup, dnc, invalid, already}
`;

/**
 * Moves contacts whose time has come from the due set to the feeding set,
 * marking each as queued for its next attempt number.
 * KEYS: due, feeding, st, rows
 * ARGV: now, limit
 * Returns a flat list [idx, attemptNumber, row, ...].
 */
export const TAKE_DUE = `
local now = tonumber(ARGV[1])
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, idx in ipairs(ids) do
  redis.call('ZREM', KEYS[1], idx)
  local raw = redis.call('HGET', KEYS[3], idx)
  local st
  if raw then st = cjson.decode(raw) else st = {s = 'pending', n = 0, p = 0} end
  if st.s == 'pending' then
    st.n = (st.n or 0) + 1
    st.ph = 'queued'
    redis.call('HSET', KEYS[3], idx, cjson.encode(st))
    redis.call('ZADD', KEYS[2], now, idx)
    table.insert(out, idx)
    table.insert(out, st.n)
    table.insert(out, redis.call('HGET', KEYS[4], idx) or '')
  end
end
return out
`;

/**
 * Compare-and-set commit of one attempt and its contact.
 * KEYS: att, st, counts, due, deadlines, campaign, active, feeding, outbox, stats
 * A contact that reaches (or changes) a final status is appended to the
 * outbox when its campaign sends notifications.
 * ARGV: expectedAttVer ('0' = must not exist), attFields JSON ('' = none),
 *       idx, expectedSt ('' = absent), newSt ('' = unchanged),
 *       oldStatus, newStatus, dueAt ('' = none), deadline ('' | 'del' | ms),
 *       cuuid, now, campaignId, stats increments JSON ('' = none)
 * Returns 'conflict', 'ok' or 'completed'.
 */
export const COMMIT = `
local ver = redis.call('HGET', KEYS[1], 'ver') or '0'
if ver ~= ARGV[1] then return 'conflict' end
local idx = ARGV[3]
local st = redis.call('HGET', KEYS[2], idx) or ''
if st ~= ARGV[4] then return 'conflict' end
if ARGV[2] ~= '' then
  local fields = cjson.decode(ARGV[2])
  local flat = {}
  for k, v in pairs(fields) do
    table.insert(flat, k)
    table.insert(flat, tostring(v))
  end
  table.insert(flat, 'ver')
  table.insert(flat, tostring(tonumber(ver) + 1))
  redis.call('HSET', KEYS[1], unpack(flat))
end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], idx, ARGV[5]) end
local old, new = ARGV[6], ARGV[7]
if old ~= new then
  redis.call('HINCRBY', KEYS[3], old, -1)
  redis.call('HINCRBY', KEYS[3], new, 1)
  if old == 'pending' then redis.call('HINCRBY', KEYS[3], '_final', 1) end
  if new == 'pending' then redis.call('HINCRBY', KEYS[3], '_final', -1) end
end
if ARGV[8] ~= '' then redis.call('ZADD', KEYS[4], tonumber(ARGV[8]), idx) end
redis.call('ZREM', KEYS[8], idx)
if ARGV[13] and ARGV[13] ~= '' then
  for field, by in pairs(cjson.decode(ARGV[13])) do redis.call('HINCRBY', KEYS[10], field, by) end
end
if old ~= new and new ~= 'pending' and redis.call('HGET', KEYS[6], 'notify') == '1' then
  redis.call('XADD', KEYS[9], '*', 'cid', ARGV[12], 'idx', idx, 'status', new, 'from', old)
end
if ARGV[9] == 'del' then
  redis.call('ZREM', KEYS[5], ARGV[10])
elseif ARGV[9] ~= '' then
  redis.call('ZADD', KEYS[5], tonumber(ARGV[9]), ARGV[10])
end
if new ~= 'pending' and old == 'pending' then
  local total = tonumber(redis.call('HGET', KEYS[6], 'total') or '0')
  local final = tonumber(redis.call('HGET', KEYS[3], '_final') or '0')
  if redis.call('HGET', KEYS[6], 'importDone') == '1' and final >= total then
    local state = redis.call('HGET', KEYS[6], 'state')
    if state == 'running' or state == 'paused' then
      redis.call('HSET', KEYS[6], 'state', 'completed', 'finishedAt', ARGV[11])
    end
    redis.call('SREM', KEYS[7], ARGV[12])
    return 'completed'
  end
end
return 'ok'
`;

/**
 * Marks the end of an import; completes the campaign at once when nothing is
 * left to dial.
 * KEYS: campaign, counts, active   ARGV: now, campaignId, nextState
 */
export const FINISH_IMPORT = `
redis.call('HSET', KEYS[1], 'importDone', '1')
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'importing' then
  redis.call('HSET', KEYS[1], 'state', ARGV[3], 'startedAt', ARGV[1])
  state = ARGV[3]
end
local total = tonumber(redis.call('HGET', KEYS[1], 'total') or '0')
local final = tonumber(redis.call('HGET', KEYS[2], '_final') or '0')
if final >= total then
  if state == 'running' or state == 'paused' then
    redis.call('HSET', KEYS[1], 'state', 'completed', 'finishedAt', ARGV[1])
  end
  redis.call('SREM', KEYS[3], ARGV[2])
  return 'completed'
end
return state
`;

/**
 * Dry run of a batch: dedupe in a scratch set, DNC check, nothing stored.
 * KEYS: scratch set, phones (existing campaign numbers or a missing key), dnc lists...
 * ARGV: ttlSeconds, e164...
 * Returns [dialable, duplicate, dnc, already].
 */
export const DRY_RUN_BATCH = `
local dial, dup, dnc, already = 0, 0, 0, 0
for i = 2, #ARGV do
  local e = ARGV[i]
  if redis.call('HEXISTS', KEYS[2], e) == 1 then
    already = already + 1
  elseif redis.call('SADD', KEYS[1], e) == 0 then
    dup = dup + 1
  else
    local onDnc = false
    for k = 3, #KEYS do
      if redis.call('SISMEMBER', KEYS[k], e) == 1 then onDnc = true break end
    end
    if onDnc then dnc = dnc + 1 else dial = dial + 1 end
  end
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[1]))
return {dial, dup, dnc, already}
`;
