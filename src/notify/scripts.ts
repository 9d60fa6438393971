/**
 * Lua run atomically in Redis for outbound notifications. An outbox entry is
 * acknowledged in the same step that records what became of it (delivered,
 * scheduled for a retry, given up), so a process that dies in between leaves
 * the entry pending for another to take over, never lost.
 *
 * A retry is held by the process that took it through its score: taking it
 * sets the score to the end of a lease, and only the holder of that score may
 * finish or reschedule it.
 */

/**
 * An entry's first try succeeded.
 * KEYS: outbox, counts   ARGV: group, entryId
 * Returns 1, or 0 when the entry had been acknowledged already.
 */
export const ENTRY_DELIVERED = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('HINCRBY', KEYS[2], 'delivered', 1)
return 1
`;

/**
 * An entry's first try failed: the delivery goes to the retry set.
 * KEYS: outbox, counts, retry, delivery
 * ARGV: group, entryId, deliveryId, dueAt, fields JSON
 * Returns 1, or 0 when the entry had been acknowledged already.
 */
export const ENTRY_DEFERRED = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
local fresh = redis.call('ZSCORE', KEYS[3], ARGV[3]) == false
local fields = cjson.decode(ARGV[5])
local flat = {}
for k, v in pairs(fields) do
  table.insert(flat, k)
  table.insert(flat, tostring(v))
end
redis.call('DEL', KEYS[4])
redis.call('HSET', KEYS[4], unpack(flat))
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
if fresh then redis.call('HINCRBY', KEYS[2], 'retrying', 1) end
return 1
`;

/**
 * An entry's first try failed for good.
 * KEYS: outbox, counts, dead   ARGV: group, entryId, dead letter JSON, keep
 * Returns 1, or 0 when the entry had been acknowledged already.
 */
export const ENTRY_FAILED = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
redis.call('LPUSH', KEYS[3], ARGV[3])
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[4]) - 1)
redis.call('HINCRBY', KEYS[2], 'failed', 1)
return 1
`;

/**
 * Takes due retries for one lease.
 * KEYS: retry   ARGV: now, leaseUntil, limit
 * Returns the delivery ids taken.
 */
export const LEASE_DUE = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], id)
end
return ids
`;

const OWNED = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score == false or tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
`;

/**
 * A retry succeeded.
 * KEYS: retry, delivery, counts   ARGV: deliveryId, leaseUntil
 * Returns 1, or 0 when the lease was no longer held.
 */
export const RETRY_DELIVERED = `${OWNED}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('HINCRBY', KEYS[3], 'retrying', -1)
redis.call('HINCRBY', KEYS[3], 'delivered', 1)
return 1
`;

/**
 * A retry failed and is tried again later.
 * KEYS: retry, delivery   ARGV: deliveryId, leaseUntil, dueAt, tries, lastAt, lastError
 * Returns 1, or 0 when the lease was no longer held.
 */
export const RETRY_LATER = `${OWNED}
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], 'tries', ARGV[4], 'lastAt', ARGV[5], 'lastError', ARGV[6])
return 1
`;

/**
 * A retry failed for good (or a retry that can no longer be sent).
 * KEYS: retry, delivery, counts, dead   ARGV: deliveryId, leaseUntil, dead letter JSON, keep
 * Returns 1, or 0 when the lease was no longer held.
 */
export const RETRY_FAILED = `${OWNED}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('LPUSH', KEYS[4], ARGV[3])
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[4]) - 1)
redis.call('HINCRBY', KEYS[3], 'retrying', -1)
redis.call('HINCRBY', KEYS[3], 'failed', 1)
return 1
`;

/**
 * Gives a taken retry back at once (a process stopping mid-send).
 * KEYS: retry   ARGV: deliveryId, leaseUntil, dueAt
 */
export const RETRY_RELEASE = `${OWNED}
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
return 1
`;

/**
 * Drops a retry whose record is gone.
 * KEYS: retry   ARGV: deliveryId, leaseUntil
 */
export const RETRY_DROP = `${OWNED}
redis.call('ZREM', KEYS[1], ARGV[1])
return 1
`;
