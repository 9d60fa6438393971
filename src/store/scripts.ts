/**
 * Lua run atomically in Redis. Decisions live in TypeScript (src/domain);
 * these scripts only apply them, with compare-and-set so that concurrent
 * writers (a worker's dial result and the provider's callback) never lose
 * each other's updates.
 */

/**
 * Stores a batch of imported rows. Each row is appended to its row list
 * (`<rowsBase>:<idx / bucketSize>`, built here from the contact index the
 * script allocates: one Redis server, not a cluster); new contacts go to the
 * fresh list, due from the campaign's `freshAt` (the earliest dueAt given).
 * KEYS: st, phones, fresh, counts, rejseen, campaign, dnc lists...
 * ARGV: uploadId, dueAt, rowsBase, bucketSize, records packed as in
 *       import-batch.ts: kind ('c' contact | 'r' reject), line,
 *       e164 | reject hash, row, reject state; each field ends with 0x1f (US),
 *       the last one of a record with 0x1e (RS)
 * Returns [added, duplicate, dnc, invalid, already].
 */
export const IMPORT_BATCH = `
local upload = ARGV[1]
local dueAt = ARGV[2]
local base = ARGV[3]
local size = tonumber(ARGV[4])
local added, dup, dnc, invalid, already = 0, 0, 0, 0, 0
local total = tonumber(redis.call('HGET', KEYS[6], 'total') or '0')
local fresh = {}
local function store(row)
  local idx = total
  total = total + 1
  local len = redis.call('RPUSH', base .. ':' .. math.floor(idx / size), row)
  if len ~= idx % size + 1 then
    redis.call('HSET', KEYS[6], 'total', total)
    error('row list of contact ' .. idx .. ' holds ' .. len .. ' rows, expected ' .. (idx % size + 1))
  end
  return idx
end
local data = ARGV[5]
local pos = 1
while pos <= #data do
  local stop = string.find(data, '\\30', pos, true)
  local f = {}
  for j = 1, 4 do
    local e = string.find(data, '\\31', pos, true)
    f[j] = string.sub(data, pos, e - 1)
    pos = e + 1
  end
  local state = string.sub(data, pos, stop - 1)
  pos = stop + 1
  local kind, line, key, row = f[1], f[2], f[3], f[4]
  if kind == 'c' then
    local seen = redis.call('HGET', KEYS[2], key)
    if seen then
      local sep = string.find(seen, ':', 1, true)
      if string.sub(seen, 1, sep - 1) == upload then
        local idx = store(row)
        redis.call('HSET', KEYS[1], idx, cjson.encode({s = 'duplicate', n = 0, p = 0, e = 'same number as line ' .. string.sub(seen, sep + 1)}))
        dup = dup + 1
      else
        already = already + 1
      end
    else
      local onDnc = false
      for k = 7, #KEYS do
        if redis.call('SISMEMBER', KEYS[k], key) == 1 then onDnc = true break end
      end
      local idx = store(row)
      redis.call('HSET', KEYS[2], key, upload .. ':' .. line)
      if onDnc then
        redis.call('HSET', KEYS[1], idx, '{"s":"dnc","n":0,"p":0,"e":"number is on a do-not-call list"}')
        dnc = dnc + 1
      else
        fresh[#fresh + 1] = idx
        added = added + 1
      end
    end
  else
    if redis.call('SADD', KEYS[5], key) == 0 then
      already = already + 1
    else
      local idx = store(row)
      redis.call('HSET', KEYS[1], idx, state)
      invalid = invalid + 1
    end
  end
end
redis.call('HSET', KEYS[6], 'total', total)
for from = 1, #fresh, 500 do
  redis.call('RPUSH', KEYS[3], unpack(fresh, from, math.min(#fresh, from + 499)))
end
if added > 0 then
  local at = redis.call('HGET', KEYS[6], 'freshAt')
  if not at or tonumber(at) > tonumber(dueAt) then redis.call('HSET', KEYS[6], 'freshAt', dueAt) end
  redis.call('HINCRBY', KEYS[4], 'pending', added)
end
if dup > 0 then redis.call('HINCRBY', KEYS[4], 'duplicate', dup) end
if dnc > 0 then redis.call('HINCRBY', KEYS[4], 'dnc', dnc) end
if invalid > 0 then redis.call('HINCRBY', KEYS[4], 'invalid', invalid) end
if dup + dnc + invalid > 0 then redis.call('HINCRBY', KEYS[4], '_final', dup + dnc + invalid) end
return {added, dup, dnc, invalid, already}
`;

/**
 * Takes contacts whose time has come (the due set first, then fresh ones
 * once the campaign's `freshAt` has passed) and marks each as queued for
 * its next attempt number in the feeding set.
 * KEYS: due, feeding, st, fresh, campaign
 * ARGV: now, limit, rowsBase, bucketSize
 * Returns a flat list [idx, attemptNumber, row, state as written, ...].
 */
export const TAKE_DUE = `
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local base = ARGV[3]
local size = tonumber(ARGV[4])
local out = {}
local function take(idx)
  local raw = redis.call('HGET', KEYS[3], idx)
  local st
  if raw then st = cjson.decode(raw) else st = {s = 'pending', n = 0, p = 0} end
  if st.s == 'pending' then
    st.n = (st.n or 0) + 1
    st.ph = 'queued'
    local written = cjson.encode(st)
    redis.call('HSET', KEYS[3], idx, written)
    redis.call('ZADD', KEYS[2], now, idx)
    local n = tonumber(idx)
    table.insert(out, idx)
    table.insert(out, st.n)
    table.insert(out, redis.call('LINDEX', base .. ':' .. math.floor(n / size), n % size) or '')
    table.insert(out, written)
  end
end
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, limit)
for _, idx in ipairs(ids) do
  redis.call('ZREM', KEYS[1], idx)
  take(idx)
end
local room = limit - #ids
if room > 0 and tonumber(redis.call('HGET', KEYS[5], 'freshAt') or '0') <= now then
  local fresh = redis.call('LPOP', KEYS[4], room)
  if fresh then
    for _, idx in ipairs(fresh) do take(idx) end
  end
end
return out
`;

/**
 * Compare-and-set commit of one attempt and its contact.
 * KEYS: att, campaign (its hash; the campaign's st, counts, due, feeding and
 *       stats keys are named from it, as in keys.ts), deadlines, active,
 *       outbox, then the optional ones: the index key (with an index), the
 *       pacer's channel holds of the campaign and the account (with a release)
 * A contact that reaches (or changes) a final status is appended to the
 * outbox when its campaign sends notifications.
 * ARGV: expectedAttVer ('0' = must not exist), number of attempt fields
 *       written ('' = none, not even the version; '0' = only the version),
 *       idx, expectedSt ('' = absent), newSt ('' = unchanged),
 *       oldStatus, newStatus, dueAt ('' = none), deadline ('' | 'del' | ms),
 *       cuuid, now, campaignId, stats increments JSON ('' = none),
 *       index TTL ms ('' = no index), index value, release ('1' = free the channel),
 *       then the attempt fields: name, value, name, value…
 * The index key is set to the index value with that TTL (an attempt found by
 * callee, call uuid or provider call id); a release removes the attempt from
 * both holds.
 * Returns 'conflict', 'ok' or 'completed'.
 */
const COMMIT_FUNCTION = `
local function commit(KEYS, ARGV)
  local cmp = KEYS[2]
  local stKey, countsKey, dueKey, feedingKey, statsKey = cmp .. ':st', cmp .. ':counts', cmp .. ':due', cmp .. ':feeding', cmp .. ':stats'
  local deadlinesKey, activeKey, outboxKey = KEYS[3], KEYS[4], KEYS[5]
  local nextKey = 6
  local indexKey, holdsCampaign, holdsAccount
  if ARGV[14] and ARGV[14] ~= '' then
    indexKey = KEYS[nextKey]
    nextKey = nextKey + 1
  end
  if ARGV[16] == '1' then
    holdsCampaign, holdsAccount = KEYS[nextKey], KEYS[nextKey + 1]
  end
  local ver = redis.call('HGET', KEYS[1], 'ver') or '0'
  if ver ~= ARGV[1] then return 'conflict' end
  local idx = ARGV[3]
  local st = redis.call('HGET', stKey, idx) or ''
  if st ~= ARGV[4] then return 'conflict' end
  if ARGV[2] ~= '' then
    local flat = {}
    for i = 17, 16 + 2 * tonumber(ARGV[2]) do flat[#flat + 1] = ARGV[i] end
    flat[#flat + 1] = 'ver'
    flat[#flat + 1] = tostring(tonumber(ver) + 1)
    redis.call('HSET', KEYS[1], unpack(flat))
  end
  if ARGV[5] ~= '' then redis.call('HSET', stKey, idx, ARGV[5]) end
  local old, new = ARGV[6], ARGV[7]
  local final
  if old ~= new then
    redis.call('HINCRBY', countsKey, old, -1)
    redis.call('HINCRBY', countsKey, new, 1)
    if old == 'pending' then final = redis.call('HINCRBY', countsKey, '_final', 1) end
    if new == 'pending' then redis.call('HINCRBY', countsKey, '_final', -1) end
  end
  -- The campaign's fields a final status needs (notifications, completion), read once.
  local campaign
  if old ~= new and new ~= 'pending' then campaign = redis.call('HMGET', cmp, 'notify', 'total', 'importDone', 'state') end
  if ARGV[8] ~= '' then redis.call('ZADD', dueKey, tonumber(ARGV[8]), idx) end
  redis.call('ZREM', feedingKey, idx)
  if ARGV[13] and ARGV[13] ~= '' then
    for field, by in pairs(cjson.decode(ARGV[13])) do redis.call('HINCRBY', statsKey, field, by) end
  end
  if campaign and campaign[1] == '1' then
    redis.call('XADD', outboxKey, '*', 'cid', ARGV[12], 'idx', idx, 'status', new, 'from', old)
  end
  if ARGV[14] and ARGV[14] ~= '' then
    redis.call('SET', indexKey, ARGV[15], 'PX', tonumber(ARGV[14]))
  end
  if ARGV[16] == '1' then
    redis.call('ZREM', holdsCampaign, ARGV[10])
    redis.call('ZREM', holdsAccount, ARGV[10])
  end
  if ARGV[9] == 'del' then
    redis.call('ZREM', deadlinesKey, ARGV[10])
  elseif ARGV[9] ~= '' then
    redis.call('ZADD', deadlinesKey, tonumber(ARGV[9]), ARGV[10])
  end
  if final and campaign then
    if campaign[3] == '1' and final >= tonumber(campaign[2] or '0') then
      local state = campaign[4]
      if state == 'running' or state == 'paused' then
        redis.call('HSET', cmp, 'state', 'completed', 'finishedAt', ARGV[11])
      end
      redis.call('SREM', activeKey, ARGV[12])
      return 'completed'
    end
  end
  return 'ok'
end
`;

export const COMMIT = `${COMMIT_FUNCTION}
return commit(KEYS, ARGV)
`;

/**
 * Several commits in one call, each its own compare-and-set exactly as COMMIT
 * (one failing does not stop the others; a Lua error in one is its answer).
 * KEYS: every key the commits use, each once
 * ARGV: count, then per commit: its number of keys, its number of args, its
 *       keys as places in KEYS, its args
 * Returns one answer per commit: 'conflict', 'ok', 'completed' or 'error: …'.
 */
export const COMMIT_MANY = `${COMMIT_FUNCTION}
local out = {}
local all = KEYS
local ap = 2
for i = 1, tonumber(ARGV[1]) do
  local kc, ac = tonumber(ARGV[ap]), tonumber(ARGV[ap + 1])
  ap = ap + 2
  local keys, args = {}, {}
  for j = 1, kc do keys[j] = all[tonumber(ARGV[ap + j - 1])] end
  ap = ap + kc
  for j = 1, ac do args[j] = ARGV[ap + j - 1] end
  ap = ap + ac
  local ok, r = pcall(commit, keys, args)
  if ok then out[i] = r else out[i] = 'error: ' .. tostring(r) end
end
return out
`;

/**
 * Reads attempts with their contacts' states.
 * KEYS: every key the reads use, each once
 * ARGV: per attempt: its hash and its campaign's contact-state hash as places
 *       in KEYS, the contact index ('' = no contact state to read)
 * Returns per attempt { HGETALL of the hash, the state or false }.
 */
export const READ_WITH_STATE = `
local out = {}
for i = 1, #ARGV, 3 do
  local st = false
  if ARGV[i + 2] ~= '' then st = redis.call('HGET', KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2]) end
  out[(i + 2) / 3] = { redis.call('HGETALL', KEYS[tonumber(ARGV[i])]), st }
end
return out
`;

/**
 * Reads contact rows with their states.
 * KEYS: every key the reads use, each once
 * ARGV: per contact: its row list and its campaign's contact-state hash as
 *       places in KEYS, its place in the row list, its index
 * Returns per contact { the row or false, the state or false }.
 */
export const ROWS_WITH_STATES = `
local out = {}
for i = 1, #ARGV, 4 do
  out[(i + 3) / 4] = { redis.call('LINDEX', KEYS[tonumber(ARGV[i])], ARGV[i + 2]) or false, redis.call('HGET', KEYS[tonumber(ARGV[i + 1])], ARGV[i + 3]) or false }
end
return out
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
