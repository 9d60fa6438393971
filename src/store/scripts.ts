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
 * ARGV: expectedAttVer ('0' = must not exist), the attempt's new stored
 *       value ('<expectedAttVer + 1>|<fields JSON>'; '' = left as it is), idx, expectedSt ('' = absent), newSt ('' = unchanged),
 *       oldStatus, newStatus, dueAt ('' = none), deadline ('' | 'del' | ms),
 *       cuuid, now, campaignId, number of stats increments ('' = none),
 *       index TTL ms ('' = no index), index value, release ('1' = free the channel),
 *       unfeed ('1' = the contact may still be in the feeding set: take it out),
 *       then the stats increments: field, by, field, by…
 * The index key is set to the index value with that TTL (an attempt found by
 * callee, call uuid or provider call id); a release removes the attempt from
 * both holds.
 * Returns 'conflict', 'ok' or 'completed'.
 *
 * Counter moves (status counts, report sums) are added up over a batch of
 * commits and written once per hash field at its end (flush), where a
 * campaign whose last contact went final in the batch is completed: the last
 * commit that made one of its contacts final answers 'completed'.
 */
const COMMIT_FUNCTION = `
local function newAcc()
  return { hashes = {}, hashOrder = {}, camps = {}, campOrder = {} }
end

local function incr(acc, key, field, by)
  if not by then error('increment of ' .. tostring(field) .. ' in ' .. key .. ' is not a number') end
  local h = acc.hashes[key]
  if not h then
    h = { fields = {}, by = {} }
    acc.hashes[key] = h
    acc.hashOrder[#acc.hashOrder + 1] = key
  end
  local was = h.by[field]
  if was == nil then
    h.fields[#h.fields + 1] = field
    was = 0
  end
  h.by[field] = was + by
end

-- A campaign's keys (named from its hash key, as keys.ts does), made once per batch.
local function camp(acc, cmp)
  local c = acc.camps[cmp]
  if not c then
    c = { st = cmp .. ':st', counts = cmp .. ':counts', due = cmp .. ':due', feeding = cmp .. ':feeding', stats = cmp .. ':stats' }
    acc.camps[cmp] = c
    acc.campOrder[#acc.campOrder + 1] = cmp
  end
  return c
end

-- The campaign's fields a final status needs (notifications, completion), read once per batch.
local function campFields(c, cmp)
  if not c.fields then c.fields = redis.call('HMGET', cmp, 'notify', 'total', 'importDone', 'state') end
  return c.fields
end

-- K: this commit's keys; A[o + 1], A[o + 2]…: its args; i: its place in the batch.
local function commit(K, A, o, i, acc)
  local cmp = K[2]
  local c = camp(acc, cmp)
  local deadlinesKey, activeKey, outboxKey = K[3], K[4], K[5]
  local nextKey = 6
  local indexKey, holdsCampaign, holdsAccount
  local indexTtl = A[o + 14]
  if indexTtl and indexTtl ~= '' then
    indexKey = K[nextKey]
    nextKey = nextKey + 1
  end
  local release = A[o + 16] == '1'
  if release then holdsCampaign, holdsAccount = K[nextKey], K[nextKey + 1] end
  -- The version is the value's prefix ('<ver>|'); a value without one never matches.
  local cur = redis.call('GET', K[1])
  local ver = '0'
  if cur then ver = string.match(cur, '^(%d+)|') or 'damaged' end
  if ver ~= A[o + 1] then return 'conflict' end
  local idx = A[o + 3]
  local st = redis.call('HGET', c.st, idx) or ''
  if st ~= A[o + 4] then return 'conflict' end
  if A[o + 2] ~= '' then redis.call('SET', K[1], A[o + 2]) end
  if A[o + 5] ~= '' then redis.call('HSET', c.st, idx, A[o + 5]) end
  local old, new = A[o + 6], A[o + 7]
  if old ~= new then
    incr(acc, c.counts, old, -1)
    incr(acc, c.counts, new, 1)
    if old == 'pending' then
      incr(acc, c.counts, '_final', 1)
      c.maybeFinal, c.active, c.cid, c.now = i, activeKey, A[o + 12], A[o + 11]
    end
    if new == 'pending' then incr(acc, c.counts, '_final', -1) end
  end
  if A[o + 8] ~= '' then redis.call('ZADD', c.due, tonumber(A[o + 8]), idx) end
  if A[o + 17] == '1' then redis.call('ZREM', c.feeding, idx) end
  local nStats = tonumber(A[o + 13]) or 0
  local s0 = o + 17
  for j = 1, nStats do incr(acc, c.stats, A[s0 + 2 * j - 1], tonumber(A[s0 + 2 * j])) end
  if old ~= new and new ~= 'pending' and campFields(c, cmp)[1] == '1' then
    redis.call('XADD', outboxKey, '*', 'cid', A[o + 12], 'idx', idx, 'status', new, 'from', old)
  end
  if indexKey then redis.call('SET', indexKey, A[o + 15], 'PX', tonumber(indexTtl)) end
  if release then
    redis.call('ZREM', holdsCampaign, A[o + 10])
    redis.call('ZREM', holdsAccount, A[o + 10])
  end
  local deadline = A[o + 9]
  if deadline == 'del' then
    redis.call('ZREM', deadlinesKey, A[o + 10])
  elseif deadline ~= '' then
    redis.call('ZADD', deadlinesKey, tonumber(deadline), A[o + 10])
  end
  return 'ok'
end

-- After commit i answered r: when it made a contact final, it is its campaign's latest such commit.
local function answered(acc, K, i, r)
  local c = acc.camps[K[2]]
  if r == 'ok' and c and c.maybeFinal == i then c.finalItem = i end
end

-- Writes what a batch added up (one HINCRBY per hash field), then completes each campaign
-- whose contacts are now all final; the last commit that made one of them final answers 'completed'.
local function flush(acc, out)
  for _, key in ipairs(acc.hashOrder) do
    local h = acc.hashes[key]
    for _, field in ipairs(h.fields) do
      local by = h.by[field]
      if by ~= 0 then redis.call('HINCRBY', key, field, by) end
    end
  end
  for _, cmp in ipairs(acc.campOrder) do
    local c = acc.camps[cmp]
    if c.maybeFinal then
      local f = campFields(c, cmp)
      local final = tonumber(redis.call('HGET', c.counts, '_final') or '0')
      if f[3] == '1' and final >= tonumber(f[2] or '0') then
        if f[4] == 'running' or f[4] == 'paused' then
          redis.call('HSET', cmp, 'state', 'completed', 'finishedAt', c.now)
        end
        redis.call('SREM', c.active, c.cid)
        if c.finalItem then out[c.finalItem] = 'completed' end
      end
    end
  end
end
`;

export const COMMIT = `${COMMIT_FUNCTION}
local acc = newAcc()
local out = { commit(KEYS, ARGV, 0, 1, acc) }
answered(acc, KEYS, 1, out[1])
flush(acc, out)
return out[1]
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
local acc = newAcc()
local out = {}
local ap = 2
for i = 1, tonumber(ARGV[1]) do
  local kc, ac = tonumber(ARGV[ap]), tonumber(ARGV[ap + 1])
  ap = ap + 2
  local keys = {}
  for j = 1, kc do keys[j] = KEYS[tonumber(ARGV[ap + j - 1])] end
  ap = ap + kc
  local ok, r = pcall(commit, keys, ARGV, ap - 1, i, acc)
  if ok then
    out[i] = r
    answered(acc, keys, i, r)
  else
    out[i] = 'error: ' .. tostring(r)
  end
  ap = ap + ac
end
flush(acc, out)
return out
`;

/**
 * Reads attempts with their contacts' states.
 * KEYS: every key the reads use, each once
 * ARGV: per attempt: its hash and its campaign's contact-state hash as places
 *       in KEYS, the contact index ('' = no contact state to read)
 * Returns per attempt { its stored value or false, the state or false }.
 */
export const READ_WITH_STATE = `
local out = {}
for i = 1, #ARGV, 3 do
  local st = false
  if ARGV[i + 2] ~= '' then st = redis.call('HGET', KEYS[tonumber(ARGV[i + 1])], ARGV[i + 2]) end
  -- A key of another type is that attempt's damage, not the batch's: it comes back as a value without a version.
  local v = redis.pcall('GET', KEYS[tonumber(ARGV[i])])
  if type(v) == 'table' and v.err then v = 'unreadable: ' .. v.err end
  out[(i + 2) / 3] = { v, st }
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
