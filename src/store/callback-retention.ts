/**
 * How long stored callbacks are kept. The log is append-only so that any
 * callback can be replayed, but Redis memory is finite: entries received
 * before the retention cut-off are removed with their recorded results, a
 * page at a time. An entry still pending (never settled) is never removed,
 * whatever its age: what was received is interpreted before it may go.
 * The counters are kept (they are totals, not entries).
 */
import type { Redis } from 'ioredis';
import type { Keys } from './keys.js';
import { callbackLogKeys } from './callback-log.js';
import { luaScript, runScript } from '../infra/lua.js';

/**
 * Removes up to one page of settled entries received before a time.
 * KEYS: log, pending, results
 * ARGV: start (exclusive stream id, '' = from the first entry), before (ms), page size
 * Returns { removed, kept (pending), last id read ('' = none) }.
 */
const PRUNE = `
local start = ARGV[1] == '' and '-' or '(' .. ARGV[1]
local entries = redis.call('XRANGE', KEYS[1], start, '(' .. ARGV[2] .. '-0', 'COUNT', tonumber(ARGV[3]))
local gone, kept = {}, 0
for _, e in ipairs(entries) do
  if redis.call('ZSCORE', KEYS[2], e[1]) then kept = kept + 1 else gone[#gone + 1] = e[1] end
end
for from = 1, #gone, 500 do
  local to = math.min(#gone, from + 499)
  redis.call('XDEL', KEYS[1], unpack(gone, from, to))
  redis.call('HDEL', KEYS[3], unpack(gone, from, to))
end
local last = ''
if #entries > 0 then last = entries[#entries][1] end
return { #gone, kept, last }
`;
const PRUNE_SCRIPT = luaScript(PRUNE, 3);

export interface PruneResult {
  /** Entries removed (with their recorded results). */
  removed: number;
  /** Entries old enough to go but still pending: kept until they are settled. */
  keptPending: number;
}

export function makeCallbackRetention(deps: { redis: Redis; keys: Keys }) {
  const k = callbackLogKeys(deps.keys);

  /** Removes every settled entry received before `before` (epoch ms), `page` entries per script call. */
  async function prune(before: number, page = 500): Promise<PruneResult> {
    const total: PruneResult = { removed: 0, keptPending: 0 };
    let start = '';
    for (;;) {
      const reply = await runScript(deps.redis, PRUNE_SCRIPT, [k.log, k.pending, k.results], [start, String(Math.floor(before)), String(page)]);
      if (!Array.isArray(reply) || reply.length !== 3) throw new Error(`pruning the callback log answered ${JSON.stringify(reply)}`);
      const [removed, kept, last] = reply as [unknown, unknown, unknown];
      total.removed += Number(removed);
      total.keptPending += Number(kept);
      if (typeof last !== 'string' || last === '' || Number(removed) + Number(kept) < page) return total;
      start = last;
    }
  }

  return { prune };
}

export type CallbackRetention = ReturnType<typeof makeCallbackRetention>;
