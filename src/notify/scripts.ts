/**
 * Lua run atomically in Redis for outbound notifications. An outbox entry is
 * acknowledged in the same step that records what became of it (delivered,
 * scheduled for a retry, given up), so a process that dies in between leaves
 * the entry pending for another to take over, never lost.
 *
 * A retry is held by the process that took it through its score: taking it
 * sets the score to the end of a lease, and only the holder of that score may
 * finish or reschedule it.
 *
 * A send takes time, and its campaign may be deleted meanwhile: what it
 * writes under the campaign (counts, dead letters, a retry) is written only
 * while the campaign is still listed. A deletion unlists it before it unlinks
 * its keys, so nothing is written back after them.
 */

/**
 * An entry's first try succeeded.
 * KEYS: outbox, counts, campaigns   ARGV: group, entryId, campaignId
 * Returns 1, or 0 when the entry had been acknowledged already.
 */
export const ENTRY_DELIVERED = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('ZSCORE', KEYS[3], ARGV[3]) ~= false then redis.call('HINCRBY', KEYS[2], 'delivered', 1) end
return 1
`;

/**
 * An entry's first try failed: the delivery goes to the retry set (not when
 * its campaign was deleted meanwhile: the entry is only acknowledged).
 * KEYS: outbox, counts, retry, delivery, campaigns
 * ARGV: group, entryId, deliveryId, dueAt, fields JSON, campaignId
 * Returns 1, 2 when the campaign was gone (acknowledged, nothing scheduled),
 * or 0 when the entry had been acknowledged already.
 */
export const ENTRY_DEFERRED = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('ZSCORE', KEYS[5], ARGV[6]) == false then return 2 end
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
 * KEYS: outbox, counts, dead, campaigns   ARGV: group, entryId, dead letter JSON, keep, campaignId
 * Returns 1, or 0 when the entry had been acknowledged already.
 */
export const ENTRY_FAILED = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('ZSCORE', KEYS[4], ARGV[5]) == false then return 1 end
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
 * KEYS: retry, delivery, counts, campaigns   ARGV: deliveryId, leaseUntil, campaignId
 * Returns 1, or 0 when the lease was no longer held.
 */
export const RETRY_DELIVERED = `${OWNED}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
if redis.call('ZSCORE', KEYS[4], ARGV[3]) == false then return 1 end
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
 * KEYS: retry, delivery, counts, dead, campaigns   ARGV: deliveryId, leaseUntil, dead letter JSON, keep, campaignId
 * Returns 1, or 0 when the lease was no longer held.
 */
export const RETRY_FAILED = `${OWNED}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
if redis.call('ZSCORE', KEYS[5], ARGV[5]) == false then return 1 end
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
 * Drops a retry with its record (the record is gone, or its campaign was
 * deleted): nothing is counted, nothing is written for the campaign.
 * KEYS: retry, delivery   ARGV: deliveryId, leaseUntil
 */
export const RETRY_DROP = `${OWNED}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2])
return 1
`;

/**
 * Puts a campaign's given-up deliveries back in the retry set, due now, each
 * with the body it was given up with and a fresh schedule (no tries yet,
 * first try now). Letters kept without a body (their contact could not be
 * read) stay in the list. A delivery already back in the retry set (the same
 * contact and status failed again since) only loses its letter.
 * The caller reads the list first and declares the delivery hash of every
 * letter it found to resend: a letter given up since that read has no
 * declared hash and stays in the list, resendable by the next request.
 * KEYS: dead, counts, retry, then the delivery hashes (each once)
 * ARGV: now, then the delivery ids of those hashes, in the same order
 * Returns { resent, kept }.
 */
export const RESEND_DEAD = `
local declared = {}
for j = 2, #ARGV do declared[ARGV[j]] = KEYS[j + 2] end
local letters = redis.call('LRANGE', KEYS[1], 0, -1)
local kept, resend, hashes = {}, {}, {}
for _, line in ipairs(letters) do
  local ok, l = pcall(cjson.decode, line)
  -- A letter given up after the caller read the list has no declared hash: it stays, for the next resend.
  local key = ok and type(l) == 'table' and type(l.body) == 'string' and type(l.delivery) == 'string' and declared[l.delivery]
  if key then
    resend[#resend + 1] = l
    hashes[#hashes + 1] = key
  else
    kept[#kept + 1] = line
  end
end
for i, l in ipairs(resend) do
  if redis.call('ZSCORE', KEYS[3], l.delivery) == false then
    redis.call('DEL', hashes[i])
    redis.call('HSET', hashes[i], 'cid', tostring(l.campaignId), 'idx', string.format('%d', l.contact), 'status', tostring(l.status), 'body', l.body,
      'tries', '0', 'firstAt', ARGV[1], 'lastAt', ARGV[1], 'lastError', tostring(l.lastError))
    redis.call('ZADD', KEYS[3], ARGV[1], l.delivery)
    redis.call('HINCRBY', KEYS[2], 'retrying', 1)
  end
  redis.call('HINCRBY', KEYS[2], 'failed', -1)
end
if #resend > 0 then
  redis.call('DEL', KEYS[1])
  for from = 1, #kept, 500 do redis.call('RPUSH', KEYS[1], unpack(kept, from, math.min(#kept, from + 499))) end
end
return { #resend, #kept }
`;
