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
-- then + ceil * rec per second up to ceil * settle, then * (1 + creep) per
-- second; until = blocked until (µs).
-- Returns the rate in force (0 = no limit), the ms still blocked, whether a
-- back-off holds the account now (blocked, or under its configured cps or with
-- no configured cps at all), and whether a back-off is remembered at all.
local function backoff(key, configured, now)
  local b = redis.call('HMGET', key, 'ceil', 'rate', 'at', 'until', 'rec', 'settle', 'creep')
  if not b[3] then return configured, 0, false, false end
  local blockedMs = math.max(0, math.ceil((num(b[4], 0) - now) / 1000))
  local ceil = num(b[1], 0)
  if ceil <= 0 then return configured, blockedMs, blockedMs > 0, true end
  local elapsed = math.max(0, now - num(b[3], now)) / 1000000
  local cut, climb, settled = num(b[2], ceil), ceil * num(b[5], 1), ceil * num(b[6], 1)
  local rate = cut + climb * elapsed
  if rate > settled then
    local base = math.max(cut, settled)
    local since = math.max(0, elapsed - math.max(0, settled - cut) / climb)
    rate = base * (1 + num(b[7], 0)) ^ since
  end
  if configured > 0 and rate >= configured then return configured, blockedMs, blockedMs > 0, true end
  return rate, blockedMs, true, true
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
 * The provider said "too fast". The rate at which the 429 came becomes the
 * account's ceiling: the lower of the rate in force and the sends logged in
 * the last second less the refused one (the provider took fewer than that).
 * The rate is cut under the ceiling (at most once per cooldown) and starts
 * recovering; a Retry-After blocks the account until it passes. Each further
 * 429 within the cooldown refused one more of the sends counted at the cut:
 * the ceiling comes down to those the provider took. With no rate to cut
 * (none configured, nothing measured) the account is blocked for the
 * Retry-After or the default block, and its next sends are logged.
 *
 * KEYS: 1 account limits, 2 account back-off, 3 account sent log
 * ARGV: 1 nowUs ('' = TIME), 2 retryAfterMs ('' = none), 3 factor, 4 minCps,
 *       5 recoverPerSecond, 6 settle, 7 creepPerSecond, 8 cooldownMs,
 *       9 defaultBlockMs, 10 memoryMs, 11 windowMs (the send log's second, with its granularity)
 * Reply: {effectiveCps (string), blockedForMs, ceilingCps (string)}
 */
export const PENALIZE_LUA = `${COMMON}
local now = clockUs(ARGV[1])
local retryAfterMs = tonumber(ARGV[2])
local factor, minCps = tonumber(ARGV[3]), tonumber(ARGV[4])
local cooldownUs = tonumber(ARGV[8]) * 1000
local defaultBlockMs, memoryMs = tonumber(ARGV[9]), tonumber(ARGV[10])
local windowUs = tonumber(ARGV[11]) * 1000

local cps = limits(KEYS[1])
local inForce = backoff(KEYS[2], cps, now)
local b = redis.call('HMGET', KEYS[2], 'ceil', 'at', 'until', 'seen', 'refused')
local ceil, at, blockedUntil = num(b[1], 0), num(b[2], nil), num(b[3], 0)
local floor = minCps
if cps > 0 then floor = math.min(floor, cps) end

if at == nil or now - at >= cooldownUs then
  -- The rate at which the 429 came: the refused send is among those logged in the last second.
  local seen = redis.call('ZCOUNT', KEYS[3], '(' .. string.format('%.0f', now - windowUs), '+inf')
  ceil = 0
  if inForce > 0 then ceil = inForce end
  if seen >= 2 and (ceil == 0 or seen - 1 < ceil) then ceil = seen - 1 end
  if ceil > 0 then ceil = math.max(ceil, floor) end
  at = now
  redis.call('HSET', KEYS[2], 'ceil', ceil, 'rate', math.max(floor, ceil * factor), 'at', at, 'seen', seen, 'refused', 1,
    'rec', tonumber(ARGV[5]), 'settle', tonumber(ARGV[6]), 'creep', tonumber(ARGV[7]))
else
  -- Another send of those counted at the cut was refused (it left before the cut took effect).
  local seen, refused = num(b[4], 0), num(b[5], 0) + 1
  redis.call('HSET', KEYS[2], 'refused', refused)
  if ceil > 0 and seen - refused >= 1 and seen - refused < ceil then
    ceil = math.max(seen - refused, floor)
    redis.call('HSET', KEYS[2], 'ceil', ceil, 'rate', math.max(floor, ceil * factor))
  end
end
if retryAfterMs == nil and ceil <= 0 then retryAfterMs = defaultBlockMs end
if retryAfterMs ~= nil and retryAfterMs > 0 then
  blockedUntil = math.max(blockedUntil, now + retryAfterMs * 1000)
end
redis.call('HSET', KEYS[2], 'until', blockedUntil)
local blockedMs = math.max(0, math.ceil((blockedUntil - now) / 1000))
redis.call('PEXPIRE', KEYS[2], math.max(blockedMs, memoryMs))
local eff = backoff(KEYS[2], cps, now)
return {tostring(eff), blockedMs, tostring(ceil)}
`;

/**
 * The account's rate as acquire would use it now, and its back-off.
 *
 * KEYS: 1 account limits, 2 account back-off
 * ARGV: 1 nowUs ('' = TIME)
 * Reply: {configuredCps (string), effectiveCps (string), blockedForMs,
 *         backingOff 0|1, ceilingCps (string), settledCps (string)}
 */
export const EFFECTIVE_RATE_LUA = `${COMMON}
local now = clockUs(ARGV[1])
local cps = limits(KEYS[1])
local eff, blockedMs, holding = backoff(KEYS[2], cps, now)
local b = redis.call('HMGET', KEYS[2], 'ceil', 'settle')
local ceil = num(b[1], 0)
local held = 0
if holding then held = 1 end
local settled = ceil * num(b[2], 1)
if cps > 0 then settled = math.min(settled, cps) end
return {tostring(cps), tostring(eff), blockedMs, held, tostring(ceil), tostring(settled)}
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
