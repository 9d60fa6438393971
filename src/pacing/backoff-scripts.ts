/**
 * The pacer's 429 back-off scripts: what a provider's "too fast" does to the
 * account's ceiling and rate (PENALIZE_LUA), and the rate in force as the
 * reservations see it (EFFECTIVE_RATE_LUA). The curve itself (cut, climb,
 * creep) is read by every script through COMMON's backoff(), in scripts.ts.
 */
import { COMMON } from './scripts.js';

/**
 * The provider said "too fast". The rate at which the 429 came becomes the
 * account's ceiling: the lower of the rate in force and the sends logged in
 * the last second less the refused one (the provider took fewer than that),
 * but one 429 brings a known ceiling down by the factor at most (the first
 * one: the rate in force), since a second in which the sending began or
 * resumed after a block holds fewer sends than the rate sends. The rate is
 * cut under the ceiling (at most once per cooldown) and starts recovering; a
 * Retry-After blocks the account until it passes. Each further 429 within the
 * cooldown refused one more of the sends counted at the cut: the ceiling
 * comes down to those the provider took. With no rate to cut (none
 * configured, nothing measured) the account is blocked for the Retry-After or
 * the default block, and its next sends are logged.
 *
 * Providers also refuse now and then whatever the rate. Every send reserved
 * while the back-off is remembered (counted by ACQUIRE as 'sent') earns a
 * share of a pass, up to a few passes. A 429 that contradicts what the
 * provider has shown uses a pass if there is one and is taken as sporadic:
 * neither the ceiling nor the rate moves (its Retry-After still blocks). It
 * contradicts when it would bring the ceiling down, or when for the proven
 * span before it the account had been let send as many a second as its
 * second held (a provider's limit answers within the first second over it).
 * Any other 429 is what a rate over the limit looks like and cuts: one above
 * the ceiling known raises the ceiling and keeps the creep's pace, one at or
 * under it starts the creep slow again.
 *
 * KEYS: 1 account limits, 2 account back-off, 3 account sent log
 * ARGV: 1 nowUs ('' = TIME), 2 retryAfterMs ('' = none), 3 factor, 4 minCps,
 *       5 recoverPerSecond, 6 settle, 7 creepPerSecond, 8 cooldownMs,
 *       9 defaultBlockMs, 10 memoryMs, 11 windowMs (the send log's second, with its granularity),
 *       12 sporadicShare (of a pass earned per send), 13 sporadicPasses (most kept),
 *       14 creepRampMs (0 = a constant creep), 15 provenMs
 * Reply: {effectiveCps (string), blockedForMs, ceilingCps (string), sporadic 0|1}
 */
export const PENALIZE_LUA = `${COMMON}
local now = clockUs(ARGV[1])
local retryAfterMs = tonumber(ARGV[2])
local factor, minCps = tonumber(ARGV[3]), tonumber(ARGV[4])
local cooldownUs = tonumber(ARGV[8]) * 1000
local defaultBlockMs, memoryMs = tonumber(ARGV[9]), tonumber(ARGV[10])
local windowUs = tonumber(ARGV[11]) * 1000
local share, maxPasses = tonumber(ARGV[12]), tonumber(ARGV[13])
local provenUs = tonumber(ARGV[15]) * 1000

local cps = limits(KEYS[1])
local inForce, _, _, _, crept = backoff(KEYS[2], cps, now)
local b = redis.call('HMGET', KEYS[2], 'ceil', 'at', 'until', 'seen', 'refused', 'sent', 'pass', 'passAt', 'cutAt')
local ceil, at, blockedUntil = num(b[1], 0), num(b[2], nil), num(b[3], 0)
-- 'at' anchors the curve; 'cutAt' is the last cut (the same, unless a sporadic 429 raised the ceiling since).
local cutAt = num(b[9], at)
local floor = minCps
if cps > 0 then floor = math.min(floor, cps) end
-- Passes: the sends reserved since the last 429 earned their share, up to the most kept.
local sent = num(b[6], 0)
local passes = math.min(maxPasses, num(b[7], 0) + share * math.max(0, sent - num(b[8], sent)))

local cut = cutAt == nil or now - cutAt >= cooldownUs
local seen, refused, lower, proven = 0, 0, ceil, false
if cut then
  -- The rate at which the 429 came: the refused send is among those logged in the last second.
  seen = redis.call('ZCOUNT', KEYS[3], '(' .. string.format('%.0f', now - windowUs), '+inf')
  lower = 0
  if inForce > 0 then lower = inForce end
  if seen >= 2 and (lower == 0 or seen - 1 < lower) then lower = seen - 1 end
  -- One 429 brings the ceiling known (the rate in force, the first time) down by the factor
  -- at most: a second in which the sending began or resumed after a block holds fewer sends
  -- than the rate sends, and a provider's lower limit is found by the next cuts, a cooldown apart.
  local known = inForce
  if ceil > 0 then known = ceil end
  if known > 0 then lower = math.max(lower, known * factor) end
  if lower > 0 then lower = math.max(lower, floor) end
  -- Proven: for the whole span before it (no cut, no block), the account was let send as
  -- many a second as this 429's second held. A provider's limit answers within the first
  -- second over it; a 429 after seconds at the same pace is not the rate's.
  local then_ = now - provenUs
  if at ~= nil and then_ >= at and blockedUntil <= then_ and seen >= 1 then
    local before = backoff(KEYS[2], cps, then_)
    proven = before > 0 and math.floor(before) >= seen
  end
else
  -- Another send of those counted at the cut was refused (it left before the cut took effect).
  seen, refused = num(b[4], 0), num(b[5], 0) + 1
  if ceil > 0 and seen - refused >= 1 and seen - refused < ceil then lower = math.max(seen - refused, floor) end
end

local sporadic = 0
if ceil > 0 and (lower < ceil or proven) and passes >= 1 then
  -- Refused under the ceiling, or at a pace the provider had been taking, with a pass in hand:
  -- not taken as the rate's.
  sporadic = 1
  passes = passes - 1
  if proven and lower > ceil then
    -- The provider had been taking more than the ceiling: it rises to what it took, the curve
    -- anchored at the rate in force now (no step), the creep keeping its pace.
    ceil = lower
    redis.call('HSET', KEYS[2], 'ceil', ceil, 'rate', inForce, 'at', now, 'crept', crept, 'cutAt', cutAt)
  end
elseif cut then
  -- Refused above the ceiling known: the climb keeps its pace after the cut. Refused at or
  -- under it (or first measured): the provider's limit is near, the creep starts slow again.
  if ceil <= 0 or lower <= ceil then crept = 0 end
  ceil = lower
  redis.call('HSET', KEYS[2], 'ceil', ceil, 'rate', math.max(floor, ceil * factor), 'at', now, 'cutAt', now, 'seen', seen, 'refused', 1,
    'rec', tonumber(ARGV[5]), 'settle', tonumber(ARGV[6]), 'creep', tonumber(ARGV[7]), 'ramp', tonumber(ARGV[14]) / 1000,
    'crept', crept)
else
  redis.call('HSET', KEYS[2], 'refused', refused)
  if lower < ceil then
    ceil = lower
    redis.call('HSET', KEYS[2], 'ceil', ceil, 'rate', math.max(floor, ceil * factor))
  end
end
redis.call('HSET', KEYS[2], 'pass', passes, 'passAt', sent)
if retryAfterMs == nil and ceil <= 0 then retryAfterMs = defaultBlockMs end
if retryAfterMs ~= nil and retryAfterMs > 0 then
  blockedUntil = math.max(blockedUntil, now + retryAfterMs * 1000)
end
redis.call('HSET', KEYS[2], 'until', blockedUntil)
local blockedMs = math.max(0, math.ceil((blockedUntil - now) / 1000))
redis.call('PEXPIRE', KEYS[2], math.max(blockedMs, memoryMs))
local eff = backoff(KEYS[2], cps, now)
return {tostring(eff), blockedMs, tostring(ceil), sporadic}
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
