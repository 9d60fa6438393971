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

-- the account's rate after a back-off, recovered additively since it was cut
local function recovered(configured, cutRate, cutAtUs, nowUs, recoverFraction)
  if configured <= 0 or cutRate <= 0 then return configured end
  local elapsed = math.max(0, nowUs - cutAtUs) / 1000000
  return math.min(configured, cutRate + configured * recoverFraction * elapsed)
end
`;

/**
 * Reserves a send slot and takes a channel, or refuses and reserves nothing.
 *
 * KEYS: 1 campaign limits, 2 account limits, 3 campaign last slot,
 *       4 account last slot, 5 campaign holds, 6 account holds,
 *       7 account back-off, 8 account active campaigns (zset id → last seen ms),
 *       9 account campaign cps (hash), 10 account share TAT (hash, µs),
 *       11 campaign accounts (set)
 * ARGV: 1 account, 2 campaignId, 3 attemptId, 4 holdUntilMs, 5 nowUs ('' = TIME),
 *       6 horizonMs, 7 activeWindowMs, 8 channelRetryMs, 9 recoverFraction,
 *       10 safetyMarginMs (each slot is (1000 + margin) / cps ms from the last),
 *       11 leadMs (no slot sooner than this from now)
 * Reply: {1, waitMs, atMs, rated (1 when a rate spaced the slot)} or {0, retryInMs, reason}
 */
const ACQUIRE_BODY = `
local account, campaignId, attemptId = ARGV[1], ARGV[2], ARGV[3]
local holdUntil = tonumber(ARGV[4])
local now = clockUs(ARGV[5])
local nowMs = math.floor(now / 1000)
local horizonUs = tonumber(ARGV[6]) * 1000
local activeWindowMs = tonumber(ARGV[7])
local channelRetryMs = tonumber(ARGV[8])
local recoverFraction = tonumber(ARGV[9])
local secondUs = 1000000 + tonumber(ARGV[10]) * 1000
local leadUs = tonumber(ARGV[11]) * 1000

local campCps, campMax = limits(KEYS[1])
local acctCps, acctMax = limits(KEYS[2])

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
if acctCps > 0 then
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

-- Back-off: a block first, then the cut rate, recovering additively.
local effCps = acctCps
local b = redis.call('HMGET', KEYS[7], 'rate', 'at', 'until')
if b[2] then
  local blockedUntil = num(b[3], 0)
  if blockedUntil > now then
    return {0, math.max(1, math.ceil((blockedUntil - now) / 1000)), 'backoff'}
  end
  effCps = recovered(acctCps, num(b[1], 0), num(b[2], now), now, recoverFraction)
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
if campCps > 0 or effCps > 0 then rated = 1 end
return {1, math.ceil((slot - now) / 1000), slotMs, rated}
`;

export const ACQUIRE_LUA = `${COMMON}${ACQUIRE_BODY}`;

/**
 * Several acquires in one call, one after the other exactly as ACQUIRE (the
 * same as separate calls arriving together; an error in one is its answer).
 * KEYS: every key the acquires use, each once
 * ARGV: per acquire, its 11 keys as places in KEYS, then its 11 args
 * Reply: one ACQUIRE reply per acquire, or 'error: …'.
 */
export const ACQUIRE_MANY_LUA = `${COMMON}
local function acquire(KEYS, ARGV)
${ACQUIRE_BODY}
end
local out = {}
local all = KEYS
for i = 0, #ARGV / 22 - 1 do
  local keys, args = {}, {}
  for j = 1, 11 do
    keys[j] = all[tonumber(ARGV[i * 22 + j])]
    args[j] = ARGV[i * 22 + 11 + j]
  end
  local ok, r = pcall(acquire, keys, args)
  if ok then out[i + 1] = r else out[i + 1] = 'error: ' .. tostring(r) end
end
return out
`;

/**
 * The provider said "too fast": cut the account's rate (at most once per
 * cooldown) and block it until Retry-After passes.
 *
 * KEYS: 1 account limits, 2 account back-off
 * ARGV: 1 nowUs ('' = TIME), 2 retryAfterMs ('' = none), 3 factor, 4 minCps,
 *       5 recoverFraction, 6 cooldownMs, 7 defaultBlockMs
 * Reply: {effectiveCps (string), blockedForMs}
 */
export const PENALIZE_LUA = `${COMMON}
local now = clockUs(ARGV[1])
local retryAfterMs = tonumber(ARGV[2])
local factor, minCps = tonumber(ARGV[3]), tonumber(ARGV[4])
local recoverFraction = tonumber(ARGV[5])
local cooldownUs = tonumber(ARGV[6]) * 1000
local defaultBlockMs = tonumber(ARGV[7])

local cps = limits(KEYS[1])
local b = redis.call('HMGET', KEYS[2], 'rate', 'at', 'until')
local rate, at = num(b[1], 0), num(b[2], nil)
local blockedUntil = num(b[3], 0)

if cps > 0 then
  local current = cps
  if at ~= nil then current = recovered(cps, rate, at, now, recoverFraction) end
  if at == nil or rate <= 0 or now - at >= cooldownUs then
    rate = math.max(math.min(minCps, cps), current * factor)
    at = now
  end
else
  rate, at = 0, now
  if retryAfterMs == nil then retryAfterMs = defaultBlockMs end
end
if retryAfterMs ~= nil and retryAfterMs > 0 then
  blockedUntil = math.max(blockedUntil, now + retryAfterMs * 1000)
end

redis.call('HSET', KEYS[2], 'rate', rate, 'at', at, 'until', blockedUntil)
local recoverMs = 0
if cps > 0 and rate < cps then
  recoverMs = math.ceil((cps - rate) / (cps * recoverFraction) * 1000)
end
local blockedMs = math.max(0, math.ceil((blockedUntil - now) / 1000))
redis.call('PEXPIRE', KEYS[2], math.max(blockedMs, math.ceil((at - now) / 1000) + recoverMs) + 60000)
return {tostring(recovered(cps, rate, at, now, recoverFraction)), blockedMs}
`;

/**
 * The account's rate as acquire would use it now.
 *
 * KEYS: 1 account limits, 2 account back-off
 * ARGV: 1 nowUs ('' = TIME), 2 recoverFraction
 * Reply: {configuredCps (string), effectiveCps (string), blockedForMs}
 */
export const EFFECTIVE_RATE_LUA = `${COMMON}
local now = clockUs(ARGV[1])
local cps = limits(KEYS[1])
local b = redis.call('HMGET', KEYS[2], 'rate', 'at', 'until')
local eff = cps
local blockedMs = 0
if b[2] then
  eff = recovered(cps, num(b[1], 0), num(b[2], now), now, tonumber(ARGV[2]))
  blockedMs = math.max(0, math.ceil((num(b[3], 0) - now) / 1000))
end
return {tostring(cps), tostring(eff), blockedMs}
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
