/**
 * The pacer's send-time admission scripts: an exact sliding-window log of
 * the sends (ADMIT_LUA), and the landing that lowers an entry once its
 * exchange has ended (LANDED_LUA). The reservation scripts (slots, channels)
 * are in scripts.ts, whose helpers these share; the 429 back-off in
 * backoff-scripts.ts.
 */
import { COMMON } from './scripts.js';

/**
 * Admission at send time: an exact sliding-window log of the sends, per
 * campaign and per account. GCRA reservations space the slots; this last
 * check (right before the request leaves) holds back a sender that woke late,
 * so that no window of one second ever holds more than cps arrivals at the
 * provider.
 *
 * The score of an entry bounds its arrival from above: while the request is
 * in flight it is the admission time plus the flight bound (the request
 * timeout: a sender that dies mid-request stays counted until then); once
 * the exchange has ended, LANDED_LUA lowers it to that time. The arrival is
 * never before the admission, so an entry whose score is more than one
 * second (plus the granularity) in the past can no longer share a provider's
 * second with a send admitted now, and every other entry is counted.
 *
 * The account's cap is its rate in force: the configured cps, or less while
 * it backs off after a 429; nothing leaves while a Retry-After blocks it.
 * Its log is kept even without a cap when the campaign's is, or while it
 * remembers a 429: it tells the rate at which a 429 came.
 *
 * KEYS: 1 campaign limits, 2 account limits, 3 campaign sent log, 4 account sent log,
 *       5 account back-off
 * ARGV: 1 attemptId, 2 nowUs ('' = TIME), 3 flightMs (upper bound of the time
 *       from admission to arrival), 4 granularityMs (added to the window: the
 *       provider's clock counts whole milliseconds)
 * Reply: {1, 0} admitted (logged), or {0, waitMs}
 */
export const ADMIT_LUA = `${COMMON}
local now = clockUs(ARGV[2])
local flightUs = tonumber(ARGV[3]) * 1000
local granularityUs = tonumber(ARGV[4]) * 1000
local campCps = limits(KEYS[1])
local acctCps, blockedMs, _, remembered = backoff(KEYS[5], limits(KEYS[2]), now)
if blockedMs > 0 then return {0, blockedMs} end
-- cps >= 1: at most floor(cps) sends in any 1 s; cps < 1: one send per 1/cps s; no cap: logged only.
local function window(cps)
  if cps <= 0 then return 0, 1000000 + granularityUs end
  if cps >= 1 then return math.floor(cps), 1000000 + granularityUs end
  return 1, math.ceil(1000000 / cps) + granularityUs
end
local wait = 0
local checks = {}
if campCps > 0 then table.insert(checks, {KEYS[3], campCps}) end
if acctCps > 0 or campCps > 0 or remembered then table.insert(checks, {KEYS[4], acctCps}) end
for _, c in ipairs(checks) do
  local cap, span = window(c[2])
  redis.call('ZREMRANGEBYSCORE', c[1], '-inf', now - span)
  if cap > 0 and redis.call('ZCARD', c[1]) >= cap then
    -- The entry that must leave for this send to fit. One still in flight
    -- (score in the future) lands after now, so it leaves a whole span from
    -- now at the earliest: that is the wait, never its far flight bound.
    local e = redis.call('ZRANGE', c[1], -cap, -cap, 'WITHSCORES')
    local w = math.ceil((math.min(tonumber(e[2]), now) + span - now) / 1000)
    if w > wait then wait = w end
  end
end
if wait > 0 then return {0, wait} end
for _, c in ipairs(checks) do
  local _, span = window(c[2])
  redis.call('ZADD', c[1], now + flightUs, ARGV[1])
  local top = redis.call('ZRANGE', c[1], -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', c[1], math.ceil((math.max(tonumber(top[2]), now) - now + span) / 1000) + 1000)
end
return {1, 0}
`;

/**
 * The exchange of an admitted send has ended (answered, failed or timed out):
 * its arrival is now in the past, so its entry's score comes down to now in
 * both logs. Only ever lowered (an entry landed twice keeps the first time),
 * and an entry no longer logged (expired) is not written again.
 *
 * KEYS: 1 campaign sent log, 2 account sent log
 * ARGV: 1 attemptId, 2 nowUs ('' = TIME)
 * Reply: number of logs whose entry was lowered
 */
export const LANDED_LUA = `
local now
if ARGV[2] ~= '' then now = math.floor(tonumber(ARGV[2])) else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
return redis.call('ZADD', KEYS[1], 'XX', 'LT', 'CH', now, ARGV[1]) + redis.call('ZADD', KEYS[2], 'XX', 'LT', 'CH', now, ARGV[1])
`;

/**
 * An admitted send that never left (its attempt was refused at the begin):
 * its entry leaves both logs, so the slot it took is free again at once.
 *
 * KEYS: 1 campaign sent log, 2 account sent log
 * ARGV: 1 attemptId
 * Reply: number of logs the entry was removed from
 */
export const WITHDRAW_LUA = `
return redis.call('ZREM', KEYS[1], ARGV[1]) + redis.call('ZREM', KEYS[2], ARGV[1])
`;
