/**
 * The pacer's Lua scripts, kept as string constants so the build copies no
 * assets. Each one runs atomically in Redis; times are integer microseconds
 * inside the scripts (Redis `TIME`, or the injected clock passed as ARGV),
 * hold expiries are epoch milliseconds (the sorted-set scores).
 *
 * Numbers are handed to redis.call as numbers (Redis writes them with 17
 * significant digits; Lua's tostring keeps only 14, too few for microseconds)
 * and come back to Node as strings where they may be fractional (Redis
 * truncates Lua numbers to integers in replies).
 */

/** Helpers shared by every script (prepended to each; the admission scripts use them too). */
export const COMMON = `
local function num(v, d)
  local n = tonumber(v)
  if n == nil then return d end
  return n
end

local function clockUs(arg)
  if arg ~= nil and arg ~= '' then return math.floor(tonumber(arg)) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- configured limits of one hash: cps (0 = none), maxConcurrent (0 = none)
local function limits(key)
  local v = redis.call('HMGET', key, 'cps', 'maxConcurrent')
  return math.max(num(v[1], 0), 0), math.max(math.floor(num(v[2], 0)), 0)
end

-- The account's back-off after a 429, a hash written by PENALIZE_LUA with its
-- own policy (every script reads the same curve): ceil = the rate at which
-- the 429 came (0 = not known: a block only), rate = the cut rate at 'at' (µs),
-- then + ceil * rec per second up to ceil * settle, then a creep; until =
-- blocked until (µs). The creep grows the rate by 'creep' per second at first,
-- and by one more 'creep' every 'ramp' seconds (0 = never) it has gone on;
-- 'crept' = the seconds it had gone on before this cut (a 429 above the
-- ceiling keeps the pace of the climb).
-- Returns the rate in force (0 = no limit), the ms still blocked, whether a
-- back-off holds the account now (blocked, or under its configured cps or with
-- no configured cps at all), whether a back-off is remembered at all, and the
-- seconds the creep has gone on (0 = not creeping).
local function backoff(key, configured, now)
  local b = redis.call('HMGET', key, 'ceil', 'rate', 'at', 'until', 'rec', 'settle', 'creep', 'ramp', 'crept')
  if not b[3] then return configured, 0, false, false, 0 end
  local blockedMs = math.max(0, math.ceil((num(b[4], 0) - now) / 1000))
  local ceil = num(b[1], 0)
  if ceil <= 0 then return configured, blockedMs, blockedMs > 0, true, 0 end
  local elapsed = math.max(0, now - num(b[3], now)) / 1000000
  local cut, climb, settled = num(b[2], ceil), ceil * num(b[5], 1), ceil * num(b[6], 1)
  local rate = cut + climb * elapsed
  local crept = 0
  if rate > settled then
    local base = math.max(cut, settled)
    local since = math.max(0, elapsed - math.max(0, settled - cut) / climb)
    -- The growth per second rises linearly with the time spent creeping: from c seconds
    -- to c + since it is worth W(c + since) - W(c) seconds of the first creep, with
    -- W(x) = x + x^2 / (2 ramp). Capped far beyond any configured cps (a finite number).
    local ramp, before = num(b[8], 0), num(b[9], 0)
    crept = before + since
    local worth = since
    if ramp > 0 then worth = since + (crept * crept - before * before) / (2 * ramp) end
    rate = base * math.exp(math.min(40, math.log(1 + num(b[7], 0)) * worth))
  end
  if configured > 0 and rate >= configured then return configured, blockedMs, blockedMs > 0, true, crept end
  return rate, blockedMs, true, true, crept
end
`;

/**
 * Reserves a send slot and takes a channel, or refuses and reserves nothing.
 *
 * KEYS: 1 campaign limits, 2 account limits, 3 campaign last slot,
 *       4 account last slot, 5 campaign holds, 6 account holds,
 *       7 account back-off, 8 account active campaigns (zset id → last seen ms),
 *       9 account campaign cps (hash), 10 account share TAT (hash, µs),
 *       11 campaign accounts (set), 12 account sent log (the send-time admission's)
 * ARGV: 1 account, 2 campaignId, 3 attemptId, 4 holdUntilMs, 5 nowUs ('' = TIME),
 *       6 horizonMs, 7 activeWindowMs, 8 channelRetryMs, 9 admitGranularityMs
 *       (the admission's window is 1 s plus this),
 *       10 safetyMarginMs (each slot is (1000 + margin) / cps ms from the last),
 *       11 leadMs (no slot sooner than this from now)
 * Reply: {1, waitMs, atMs, rated (1 when a rate spaced the slot, or the account
 *        remembers a back-off: its sends are then admitted and logged)} or {0, retryInMs, reason}
 */
const ACQUIRE_BODY = `
local account, campaignId, attemptId = ARGV[1], ARGV[2], ARGV[3]
local holdUntil = tonumber(ARGV[4])
local now = clockUs(ARGV[5])
local nowMs = math.floor(now / 1000)
local horizonUs = tonumber(ARGV[6]) * 1000
local activeWindowMs = tonumber(ARGV[7])
local channelRetryMs = tonumber(ARGV[8])
local granularityUs = tonumber(ARGV[9]) * 1000
local secondUs = 1000000 + tonumber(ARGV[10]) * 1000
local leadUs = tonumber(ARGV[11]) * 1000

local campCps, campMax = limits(KEYS[1])
local acctCps, acctMax = limits(KEYS[2])
-- The account's rate in force: its configured cps, or its rate while backing off after a 429.
local effCps, blockedMs, holding, remembered = backoff(KEYS[7], acctCps, now)

-- Channel holds: expired holds go first; an attempt already holding a
-- channel (asking again) does not count against itself.
local function channelsFull(key, max)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', nowMs)
  if max <= 0 then return false end
  local held = redis.call('ZCARD', key)
  if redis.call('ZSCORE', key, attemptId) then held = held - 1 end
  if held < max then return false end
  local wait = channelRetryMs
  local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if first[2] then wait = math.min(wait, tonumber(first[2]) - nowMs) end
  return math.max(1, math.ceil(wait))
end

local full = channelsFull(KEYS[5], campMax)
if full then return {0, full, 'campaign_channels'} end

-- Demand: this campaign is waiting on the account. Campaigns not seen
-- within the active window leave the fair-share reckoning. Kept only while
-- the account has a rate (a share of nothing needs no bookkeeping; once a
-- rate is set, every waiting campaign is back in the reckoning at its next acquire).
if effCps > 0 then
  local stale = redis.call('ZRANGEBYSCORE', KEYS[8], '-inf', nowMs - activeWindowMs)
  for _, id in ipairs(stale) do
    redis.call('ZREM', KEYS[8], id)
    redis.call('HDEL', KEYS[9], id)
    redis.call('HDEL', KEYS[10], id)
  end
  redis.call('ZADD', KEYS[8], nowMs, campaignId)
  redis.call('HSET', KEYS[9], campaignId, campCps)
  for i = 8, 10 do redis.call('PEXPIRE', KEYS[i], activeWindowMs * 3) end
end

full = channelsFull(KEYS[6], acctMax)
if full then return {0, full, 'account_channels'} end

-- Back-off: blocked until a Retry-After has passed (its rate applies below, as effCps).
if blockedMs > 0 then return {0, blockedMs, 'backoff'} end
-- While backing off, sends reserved before the cut wait at the send-time admission, which lets
-- them through at the cut rate: no new slot is reserved while the account's sends of the last
-- second fill that rate, so that they leave first and the calls after them are spaced again.
if holding and effCps > 0 then
  local cap, span = 1, math.ceil(1000000 / effCps) + granularityUs
  if effCps >= 1 then cap, span = math.floor(effCps), 1000000 + granularityUs end
  redis.call('ZREMRANGEBYSCORE', KEYS[12], '-inf', now - span)
  if redis.call('ZCARD', KEYS[12]) >= cap then
    local e = redis.call('ZRANGE', KEYS[12], -cap, -cap, 'WITHSCORES')
    return {0, math.max(1, math.ceil((math.min(tonumber(e[2]), now) + span - now) / 1000)), 'backoff'}
  end
end

-- Fair share: max-min (water-filling) split of the account rate between
-- the active campaigns, each capped by its own cps; what a capped campaign
-- cannot use goes to the others.
local shareCps = 0
if effCps > 0 and redis.call('ZCARD', KEYS[8]) >= 2 then
  local flat = redis.call('HGETALL', KEYS[9])
  local caps = {}
  for i = 2, #flat, 2 do
    local c = num(flat[i], 0)
    if c <= 0 then c = math.huge end
    caps[#caps + 1] = c
  end
  table.sort(caps)
  local remaining, left, level = effCps, #caps, math.huge
  for _, c in ipairs(caps) do
    if c * left < remaining then
      remaining = remaining - c
      left = left - 1
    else
      level = remaining / left
      break
    end
  end
  local own = campCps
  if own <= 0 then own = math.huge end
  local share = math.min(own, level)
  if share < effCps then shareCps = share end
end

-- The earliest slot allowed by every rate (spacing (1 s + margin) / cps, burst 1).
local function nextSlot(last, cps)
  if cps <= 0 or last == nil then return 0 end
  return last + math.ceil(secondUs / cps)
end
local campLast, acctLast
if campCps > 0 then campLast = tonumber(redis.call('GET', KEYS[3]) or '') end
if effCps > 0 then acctLast = tonumber(redis.call('GET', KEYS[4]) or '') end
-- The share is a fairness bound, not a provider limit: it is kept as a GCRA
-- theoretical arrival time, so a campaign delayed by the account's spacing
-- may catch up (by at most the horizon) and the account's rate is not lost.
local shareTat = 0
if effCps > 0 then shareTat = tonumber(redis.call('HGET', KEYS[10], campaignId) or '') or 0 end
local shareNext = 0
if shareCps > 0 then shareNext = shareTat end
local campNext = nextSlot(campLast, campCps)
local acctNext = math.max(nextSlot(acctLast, effCps), shareNext)
-- The lead (time to record the attempt before the slot) only matters when a rate spaces the slots.
local lead = 0
if campCps > 0 or effCps > 0 then lead = leadUs end
local slot = math.max(now + lead, campNext, acctNext)

if slot - now > horizonUs then
  local reason = 'account_rate'
  if campNext >= acctNext then reason = 'campaign_rate' end
  return {0, math.max(1, math.ceil((slot - now - horizonUs) / 1000)), reason}
end

-- Reserve: the slot, then the channel (never before its slot).
local keepMs = 3600000
if campCps > 0 then
  redis.call('SET', KEYS[3], slot, 'PX', keepMs + math.ceil(1000 / campCps))
end
if effCps > 0 then
  redis.call('SET', KEYS[4], slot, 'PX', keepMs + math.ceil(1000 / effCps))
  local shareRate = effCps
  if shareCps > 0 then shareRate = shareCps end
  redis.call('HSET', KEYS[10], campaignId, math.max(shareTat, now) + math.ceil(secondUs / shareRate))
  redis.call('PEXPIRE', KEYS[10], activeWindowMs * 3)
end
local slotMs = math.ceil(slot / 1000)
local hold = math.max(holdUntil, slotMs)
-- Each holds set lives a minute past its latest hold: its expiry only ever moves later.
local keepHold = hold - nowMs + 60000
for i = 5, 6 do
  redis.call('ZADD', KEYS[i], hold, attemptId)
  if redis.call('PTTL', KEYS[i]) < keepHold then redis.call('PEXPIRE', KEYS[i], keepHold) end
end
if redis.call('SADD', KEYS[11], account) == 1 or redis.call('PTTL', KEYS[11]) < 43200000 then
  redis.call('PEXPIRE', KEYS[11], 86400000)
end
local rated = 0
if campCps > 0 or effCps > 0 or remembered then rated = 1 end
-- While a back-off is remembered, its sends are counted: they earn the passes of sporadic 429s (PENALIZE).
if remembered then redis.call('HINCRBY', KEYS[7], 'sent', 1) end
return {1, math.ceil((slot - now) / 1000), slotMs, rated}
`;

export const ACQUIRE_LUA = `${COMMON}${ACQUIRE_BODY}`;

/**
 * Several acquires in one call, one after the other exactly as ACQUIRE (the
 * same as separate calls arriving together; an error in one is its answer).
 * KEYS: every key the acquires use, each once
 * ARGV: per acquire, its 12 keys as places in KEYS, then its 11 args
 * Reply: one ACQUIRE reply per acquire, or 'error: …'.
 */
export const ACQUIRE_MANY_LUA = `${COMMON}
local function acquire(KEYS, ARGV)
${ACQUIRE_BODY}
end
local out = {}
local all = KEYS
for i = 0, #ARGV / 23 - 1 do
  local keys, args = {}, {}
  for j = 1, 12 do keys[j] = all[tonumber(ARGV[i * 23 + j])] end
  for j = 1, 11 do args[j] = ARGV[i * 23 + 12 + j] end
  local ok, r = pcall(acquire, keys, args)
  if ok then out[i + 1] = r else out[i + 1] = 'error: ' .. tostring(r) end
end
return out
`;

/**
 * Channels held now (holds not yet expired).
 *
 * KEYS: 1 account holds, 2 campaign holds
 * ARGV: 1 nowUs ('' = TIME)
 * Reply: {account, campaign}
 */
export const IN_FLIGHT_LUA = `${COMMON}
local nowMs = math.floor(clockUs(ARGV[1]) / 1000)
local above = '(' .. string.format('%.0f', nowMs)
return {redis.call('ZCOUNT', KEYS[1], above, '+inf'), redis.call('ZCOUNT', KEYS[2], above, '+inf')}
`;

/**
 * Moves the expiry of a channel still held (a released one stays released).
 *
 * KEYS: 1 account holds, 2 campaign holds
 * ARGV: 1 attemptId, 2 holdUntilMs, 3 nowUs ('' = TIME)
 * Reply: number of sets that held the attempt
 */
export const EXTEND_LUA = `${COMMON}
local nowMs = math.floor(clockUs(ARGV[3]) / 1000)
local until_ = tonumber(ARGV[2])
local moved = 0
for i = 1, 2 do
  moved = moved + redis.call('ZADD', KEYS[i], 'XX', 'CH', until_, ARGV[1])
  if redis.call('ZSCORE', KEYS[i], ARGV[1]) then
    local top = redis.call('ZRANGE', KEYS[i], -1, -1, 'WITHSCORES')
    redis.call('PEXPIRE', KEYS[i], math.max(0, math.floor(tonumber(top[2])) - nowMs) + 60000)
  end
end
return moved
`;

/** Frees a channel on both holds. KEYS: campaign holds, account holds  ARGV: attemptId */
export const RELEASE_LUA = `
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
`;
