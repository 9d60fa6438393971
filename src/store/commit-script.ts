/**
 * The attempt commit, run atomically in Redis: one compare-and-set of an
 * attempt and its contact (COMMIT), or several in one call (COMMIT_MANY).
 * Decisions live in TypeScript (src/domain, src/engine); this script only
 * applies them, so that concurrent writers (a worker's dial answer and the
 * provider's callback) never lose each other's updates.
 */

/**
 * Compare-and-set commit of one attempt and its contact.
 * KEYS: att, campaign (its hash), deadlines, active, outbox, then the
 *       optional ones: the index key (with an index), the pacer's channel
 *       holds of the campaign and the account (with a release), then the
 *       guard's (below), then the campaign's st, counts, due, feeding and
 *       stats keys (always: every key the script touches is declared, as a
 *       Redis Cluster needs; a commit without them is an error)
 * A contact that reaches (or changes) a final status is appended to the
 * outbox when its campaign sends notifications.
 * ARGV: expectedAttVer ('0' = must not exist), the attempt's new stored
 *       value ('<expectedAttVer + 1>|<fields JSON>'; '' = left as it is), idx, expectedSt ('' = absent), newSt ('' = unchanged),
 *       oldStatus, newStatus, dueAt ('' = none), deadline ('' | 'del' | ms),
 *       cuuid, now, campaignId, number of stats increments ('' = none),
 *       index TTL ms ('' = no index), index value, release ('1' = free the channel),
 *       unfeed ('1' = the contact may still be in the feeding set: take it out),
 *       guard ('1' = a begin: the last checks before a call, below; '' = none),
 *       then the stats increments: field, by, field, by…,
 *       then, with a guard: now (ms, the caller's clock), windowUntil (ms; '' =
 *       never closes), the number (E.164), nDnc, the DNC list names (nDnc),
 *       nCaps, keepMs, then per cap: count, periodMs
 * With a guard, the keys after the optional ones are: the campaign's
 * per-second begin counts, the number's recent attempts (frequency caps),
 * then one DNC list set per name.
 * A guarded commit (the begin of an attempt, just before its request leaves)
 * is refused, writing nothing, when the campaign is not running (or
 * importing), the contact's calling window has closed (now ≥ windowUntil),
 * the number is on one of the DNC lists, or one of the caps is reached:
 * 'refused:state:<state>', 'refused:window', 'refused:dnc:<list,…>',
 * 'refused:cap:<ms when the caps allow the next attempt>'. Once it passes,
 * the attempt is counted in the number's recent attempts (kept keepMs) and
 * in the campaign's per-second begin counts (kept about 20 s).
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

-- A campaign's keys, as the commit declares them from K[at] on (taken once per batch).
local function camp(acc, cmp, K, at)
  local c = acc.camps[cmp]
  if not c then
    if not K[at + 4] then error('the commit of ' .. cmp .. ' declares ' .. #K .. ' keys: its campaign keys (st, counts, due, feeding, stats) are missing') end
    c = { st = K[at], counts = K[at + 1], due = K[at + 2], feeding = K[at + 3], stats = K[at + 4] }
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

-- The last checks of a begin (see the header): nil when the call may leave now, else the refusal.
local function guardRefusal(K, A, g, kFirst, c, cmp)
  local now = tonumber(A[g])
  local state = campFields(c, cmp)[4]
  if state ~= 'running' and state ~= 'importing' then return 'refused:state:' .. tostring(state or 'gone') end
  local untilMs = A[g + 1]
  if untilMs ~= '' and now >= tonumber(untilMs) then return 'refused:window' end
  local number = A[g + 2]
  local nDnc = tonumber(A[g + 3])
  local on = {}
  for j = 1, nDnc do
    if redis.call('SISMEMBER', K[kFirst + 1 + j], number) == 1 then on[#on + 1] = A[g + 3 + j] end
  end
  if #on > 0 then return 'refused:dnc:' .. table.concat(on, ',') end
  local capsAt = g + 4 + nDnc
  local freqKey = K[kFirst + 1]
  local retryAt = 0
  for j = 1, tonumber(A[capsAt]) do
    local count, period = tonumber(A[capsAt + 2 * j]), tonumber(A[capsAt + 2 * j + 1])
    local since = '(' .. string.format('%d', now - period)
    if redis.call('ZCOUNT', freqKey, since, '+inf') >= count then
      local e = redis.call('ZREVRANGEBYSCORE', freqKey, '+inf', since, 'WITHSCORES', 'LIMIT', count - 1, 1)
      local at = tonumber(e[2]) + period
      if at > retryAt then retryAt = at end
    end
  end
  if retryAt > 0 then return 'refused:cap:' .. string.format('%d', retryAt) end
  return nil
end

-- A begin that passed: the attempt counts towards the number's caps and the campaign's recent rate.
local function guardRecord(K, A, g, kFirst, cuuid)
  local now = tonumber(A[g])
  local nDnc = tonumber(A[g + 3])
  local keep = tonumber(A[g + 5 + nDnc])
  local freqKey, sendsKey = K[kFirst + 1], K[kFirst]
  if keep > 0 then
    redis.call('ZADD', freqKey, now, cuuid)
    redis.call('ZREMRANGEBYSCORE', freqKey, '-inf', string.format('%d', now - keep))
    redis.call('PEXPIRE', freqKey, keep)
  end
  local sec = math.floor(now / 1000)
  if redis.call('HINCRBY', sendsKey, sec, 1) == 1 then
    -- A new second: the buckets older than 20 s go (at most a few, once a second).
    local old = {}
    for _, f in ipairs(redis.call('HKEYS', sendsKey)) do
      if tonumber(f) and tonumber(f) < sec - 20 then old[#old + 1] = f end
    end
    if #old > 0 then redis.call('HDEL', sendsKey, unpack(old)) end
    redis.call('PEXPIRE', sendsKey, 60000)
  end
end

-- K: this commit's keys; A[o + 1], A[o + 2]…: its args; i: its place in the batch.
local function commit(K, A, o, i, acc)
  local cmp = K[2]
  local deadlinesKey, activeKey, outboxKey = K[3], K[4], K[5]
  local nextKey = 6
  local indexKey, holdsCampaign, holdsAccount
  local indexTtl = A[o + 14]
  if indexTtl and indexTtl ~= '' then
    indexKey = K[nextKey]
    nextKey = nextKey + 1
  end
  local release = A[o + 16] == '1'
  if release then
    holdsCampaign, holdsAccount = K[nextKey], K[nextKey + 1]
    nextKey = nextKey + 2
  end
  local nStats = tonumber(A[o + 13]) or 0
  local guarded = A[o + 18] == '1'
  local g = o + 18 + 2 * nStats + 1
  -- The campaign's own keys come after the guard's (its sends, the number's attempts, one per DNC list).
  local campAt = nextKey
  if guarded then campAt = nextKey + 2 + tonumber(A[g + 3]) end
  local c = camp(acc, cmp, K, campAt)
  -- The version is the value's prefix ('<ver>|'); a value without one never matches.
  local cur = redis.call('GET', K[1])
  local ver = '0'
  if cur then ver = string.match(cur, '^(%d+)|') or 'damaged' end
  if ver ~= A[o + 1] then return 'conflict' end
  local idx = A[o + 3]
  local st = redis.call('HGET', c.st, idx) or ''
  if st ~= A[o + 4] then return 'conflict' end
  if guarded then
    local refused = guardRefusal(K, A, g, nextKey, c, cmp)
    if refused then return refused end
    guardRecord(K, A, g, nextKey, A[o + 10])
  end
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
  local s0 = o + 18
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
