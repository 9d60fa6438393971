/**
 * Waiting for replicas to hold what a connection wrote. Redis replicates
 * asynchronously: a write the primary answered can still be lost in a
 * failover when no replica had it yet. `WAIT n timeout` answers how many
 * replicas hold everything written on this connection so far (and, the
 * replication stream being one ordered log, everything written before it on
 * any connection): one WAIT after a turn's writes covers them all.
 *
 * A write counts as held only when its reply and the WAIT's reply came over
 * the same connection: after a reconnection (a failover, say) a WAIT tells
 * nothing of what was written before it.
 */
import type { Redis } from 'ioredis';
import { makeTurnBatcher } from '../infra/turn-batch.js';

export interface ReplicaAcks {
  /** The connection the writes to wait for go through (the WAIT blocks it: give it to them alone). */
  readonly redis: Redis;
  readonly replicas: number;
  readonly timeoutMs: number;
  /** The connection as it is now: take it as soon as a write's reply is in. */
  mark(): number;
  /**
   * Whether what the connection wrote up to `mark` is held by `replicas`
   * replicas within `timeoutMs` (false too when the connection was lost
   * meanwhile or the WAIT failed). Calls of one turn share one WAIT.
   */
  held(mark: number): Promise<boolean>;
}

export function makeReplicaAcks(deps: { redis: Redis; replicas: number; timeoutMs: number }): ReplicaAcks {
  const { redis, replicas } = deps;
  const timeoutMs = Math.max(1, Math.round(deps.timeoutMs));
  if (!Number.isInteger(replicas) || replicas < 1) throw new Error(`replica acks need at least 1 replica, got ${replicas}`);
  /** Counts the connection's closes: replies read under one count came over one connection. */
  let connection = 0;
  redis.on('close', () => {
    connection++;
  });
  const wait = makeTurnBatcher<number, boolean>({
    max: Number.MAX_SAFE_INTEGER,
    async run(marks) {
      let acked: number;
      try {
        acked = await redis.wait(replicas, timeoutMs);
      } catch {
        // A connection lost, or an instance that is a replica now: nothing is known to be held.
        acked = -1;
      }
      const now = connection;
      return marks.map((m) => acked >= replicas && m === now);
    },
  });
  return {
    redis,
    replicas,
    timeoutMs,
    mark: () => connection,
    held: (mark) => wait(mark),
  };
}
