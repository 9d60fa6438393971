/**
 * Lua run atomically in Redis for the stores: import, take, batched reads,
 * end of import. Decisions live in TypeScript (src/domain); these scripts
 * only apply them. The attempt commit (compare-and-set of an attempt and its
 * contact) is in commit-script.ts.
 */

/**
 * Stores a batch of imported rows. Each row is appended to its row list
 * (bucket idx / bucketSize, idx being the contact index the script
 * allocates); new contacts go to the fresh list, due from the campaign's
 * `freshAt` (the earliest dueAt given). The caller declares the row lists of
 * a run of buckets from firstBucket on; each record stores at most one row,
 * so those of the indexes [total, total + records) must all be among them,
 * else nothing is written and the script answers { 'rows', total } (the
 * caller sends the batch again with the row lists from there).
 * KEYS: st, phones, fresh, counts, rejseen, campaign, the nRows row lists
 *       (buckets firstBucket, firstBucket + 1…), then the dnc lists
 * ARGV: uploadId, dueAt, bucketSize, firstBucket, nRows, records (how many
 *       in the batch), the records packed as in import-batch.ts: kind ('c'
 *       contact | 'r' reject), line, e164 | reject hash, row, reject state;
 *       each field ends with 0x1f (US), the last one of a record with 0x1e (RS)
 * Returns [added, duplicate, dnc, invalid, already, total after the batch].
 */
export const IMPORT_BATCH = `
local upload = ARGV[1]
local dueAt = ARGV[2]
local size = tonumber(ARGV[3])
local firstBucket = tonumber(ARGV[4])
local nRows = tonumber(ARGV[5])
local records = tonumber(ARGV[6])
local added, dup, dnc, invalid, already = 0, 0, 0, 0, 0
local total = tonumber(redis.call('HGET', KEYS[6], 'total') or '0')
if math.floor(total / size) < firstBucket or math.floor((total + records - 1) / size) >= firstBucket + nRows then
  return {'rows', total}
end
local fresh = {}
local function store(row)
  local idx = total
  total = total + 1
  local at = math.floor(idx / size) - firstBucket
  if at >= nRows then error('contact ' .. idx .. ' is past the declared row lists (the batch holds more than ' .. records .. ' records)') end
  local len = redis.call('RPUSH', KEYS[7 + at], row)
  if len ~= idx % size + 1 then
    redis.call('HSET', KEYS[6], 'total', total)
    error('row list of contact ' .. idx .. ' holds ' .. len .. ' rows, expected ' .. (idx % size + 1))
  end
  return idx
end
local data = ARGV[7]
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
      for k = 7 + nRows, #KEYS do
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
return {added, dup, dnc, invalid, already, total}
`;

/**
 * Takes contacts whose time has come (the due set first, then fresh ones
 * once the campaign's `freshAt` has passed) and marks each as queued for
 * its next attempt number in the feeding set. Their rows are read by the
 * caller afterwards (ROWS): which row lists a take touches is known only
 * once it has taken, and every key a script touches is declared.
 * KEYS: due, feeding, st, fresh, campaign
 * ARGV: now, limit
 * Returns a flat list [idx, attemptNumber, state as written, ...].
 */
export const TAKE_DUE = `
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
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
    table.insert(out, idx)
    table.insert(out, st.n)
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
 * Reads contact rows (immutable once imported: no other key is read with
 * them), run by run: a take of fresh contacts is a run of consecutive
 * indexes, one LRANGE where each row on its own would walk the list again.
 * KEYS: the row lists the reads use, each once
 * ARGV: per run of consecutive rows in one list: the list as a place in
 *       KEYS, the first and the last place in the list
 * Returns the rows of every run in order, false for a row not stored.
 */
export const ROWS = `
local out = {}
for i = 1, #ARGV, 3 do
  local got = redis.call('LRANGE', KEYS[tonumber(ARGV[i])], ARGV[i + 1], ARGV[i + 2])
  for j = 1, tonumber(ARGV[i + 2]) - tonumber(ARGV[i + 1]) + 1 do out[#out + 1] = got[j] or false end
end
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
