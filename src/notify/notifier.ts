/**
 * The notifier: drains the outbox through a consumer group, POSTs each
 * contact's result to its campaign's webhook, and keeps failed deliveries in
 * a durable retry set until they are acknowledged or given up. Several
 * processes may run it at once; each delivery is sent at least once.
 */
import { setMaxListeners } from 'node:events';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import pLimit from 'p-limit';
import type { ContactStatus } from '../domain/types.js';
import type { Keys } from '../store/keys.js';
import type { CampaignRecord, CampaignStore } from '../store/campaigns.js';
import { startLoop } from '../infra/loop.js';
import { notifyKeys } from './keys.js';
import { afterFailure, resolveNotifierOptions, type NotifierOptions, type NotifierOptionsInput } from './policy.js';
import { deliveryId, signedHeaders } from './signature.js';
import { makeWebhookSender, type SendResult } from './sender.js';
import { makeOutboxReader, type OutboxEntry, type ReadEntry } from './outbox.js';
import { makeDeliveryStore, type PendingDelivery } from './deliveries.js';
import { buildPayload, type PayloadDeps } from './payload.js';
import { TypedEvents } from '../infra/typed-events.js';

interface DeliveryFacts {
  delivery: string;
  campaignId: string;
  contact: number;
  status: ContactStatus;
  tries: number;
}

export interface NotifierEventMap {
  'notification:delivered': [DeliveryFacts & { httpStatus: number }];
  'notification:retrying': [DeliveryFacts & { nextAt: number; error: string }];
  'notification:failed': [DeliveryFacts & { reason: string; error: string }];
  /** An outbox entry with nothing to send (campaign gone or without a webhook, unreadable entry). */
  'notification:skipped': [{ entry: string; reason: string }];
}

export class NotifierEvents extends TypedEvents<NotifierEventMap> {}

export interface NotifierDeps extends PayloadDeps {
  redis: Redis;
  keys: Keys;
  campaigns: Pick<CampaignStore, 'get'>;
  now: () => number;
  random: () => number;
  log: Logger;
  options?: NotifierOptionsInput;
}

/** Store errors that mean a record is damaged: no retry will help. */
const UNREADABLE = new Set(['ERR_CONTACT_STORE', 'ERR_ATTEMPT_STORE', 'ERR_CAMPAIGN_STORE']);

function codeOf(err: unknown): string | null {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : null;
}

export function makeNotifier(deps: NotifierDeps) {
  const o: NotifierOptions = resolveNotifierOptions(deps.options);
  const { redis, now, random } = deps;
  const log = deps.log.child({ component: 'notifier' });
  const events = new NotifierEvents();
  events.setMaxListeners(1000);
  const nk = notifyKeys(deps.keys);
  const outbox = makeOutboxReader({ redis, stream: nk.outbox, consumer: o.consumer });
  const store = makeDeliveryStore({ redis, keys: deps.keys, deadLetterLimit: o.deadLetterLimit });
  const sender = makeWebhookSender(o);
  const limit = pLimit(o.concurrency);
  const stopping = new AbortController();
  // One signal is given to every send in flight (up to the concurrency): not a leak, no warning.
  setMaxListeners(o.concurrency + 10, stopping.signal);
  let groupReady = false;
  let claimCursor = '0-0';

  function send(campaign: CampaignRecord, body: string, delivery: string, attempt: number): Promise<SendResult> {
    const hook = campaign.definition.webhook!;
    const headers = signedHeaders({ secret: hook.secret, now: now(), body, delivery, attempt });
    return sender.send(hook.url, headers, body, stopping.signal);
  }

  function origin(url: string): string {
    try {
      return new URL(url).origin;
    } catch {
      return '(not a URL)';
    }
  }

  async function skip(id: string, reason: string): Promise<void> {
    await outbox.discard(id);
    log.warn({ entry: id, reason }, 'outbox entry skipped');
    events.emit('notification:skipped', { entry: id, reason });
  }

  async function handleEntry(read: ReadEntry): Promise<void> {
    if (!read.ok) return skip(read.id, `unreadable outbox entry: ${read.reason}`);
    const e: OutboxEntry = read.entry;
    const campaign = await deps.campaigns.get(e.campaignId).catch((err: unknown) => {
      if (codeOf(err) === 'ERR_CAMPAIGN_STORE') return null;
      throw err;
    });
    if (!campaign) return skip(e.id, `campaign ${e.campaignId} is gone or unreadable`);
    if (!campaign.definition.webhook) return skip(e.id, `campaign ${e.campaignId} has no webhook`);
    const delivery = deliveryId(e.campaignId, e.contact, e.status);
    const facts = { delivery, campaignId: e.campaignId, contact: e.contact, status: e.status, tries: 1 };
    const firstAt = now();
    let body: string;
    try {
      body = JSON.stringify(await buildPayload(deps, campaign, e, delivery));
    } catch (err) {
      if (!UNREADABLE.has(codeOf(err) ?? '')) throw err;
      const error = (err as Error).message;
      if (await store.entryFailed(e.id, { ...facts, firstAt }, now(), 'unreadable', error, null)) {
        log.error({ campaignId: e.campaignId, contact: e.contact, delivery }, 'notification given up: its contact could not be read');
        events.emit('notification:failed', { ...facts, reason: 'unreadable', error });
      }
      return;
    }
    if (stopping.signal.aborted) return;
    const res = await send(campaign, body, delivery, 1);
    if (res.ok) {
      if (await store.entryDelivered(e.id, e.campaignId)) events.emit('notification:delivered', { ...facts, httpStatus: res.httpStatus });
      return;
    }
    if (res.aborted) return;
    const t = now();
    const logFields = { campaignId: e.campaignId, contact: e.contact, delivery, origin: origin(campaign.definition.webhook.url), httpStatus: res.httpStatus, code: res.code, tries: 1 };
    const next = res.permanent ? ({ kind: 'give_up', reason: 'permanent' } as const) : afterFailure(o, { tries: 1, firstAt, now: t, random });
    if (next.kind === 'retry') {
      if (await store.entryDeferred(e.id, { delivery, campaignId: e.campaignId, contact: e.contact, status: e.status, body, firstAt, at: t, lastError: res.error }, next.at)) {
        log.warn({ ...logFields, nextAt: new Date(next.at).toISOString() }, 'notification not acknowledged: will retry');
        events.emit('notification:retrying', { ...facts, nextAt: next.at, error: res.error });
      }
    } else if (await store.entryFailed(e.id, { ...facts, firstAt }, t, next.reason, res.error, body)) {
      log.error({ ...logFields, reason: next.reason }, 'notification given up');
      events.emit('notification:failed', { ...facts, reason: next.reason, error: res.error });
    }
  }

  async function giveUpRetry(d: PendingDelivery, lease: number, tries: number, reason: string, error: string): Promise<void> {
    if (await store.retryFailed(d, lease, tries, now(), reason, error)) {
      log.error({ campaignId: d.campaignId, contact: d.contact, delivery: d.delivery, tries, reason }, 'notification given up');
      events.emit('notification:failed', { delivery: d.delivery, campaignId: d.campaignId, contact: d.contact, status: d.status, tries, reason, error });
    }
  }

  async function handleRetry(id: string, lease: number): Promise<void> {
    const d = await store.get(id);
    if (!d) {
      await store.drop(id, lease);
      return;
    }
    const tries = d.tries + 1;
    const campaign = await deps.campaigns.get(d.campaignId).catch((err: unknown) => {
      if (codeOf(err) === 'ERR_CAMPAIGN_STORE') return 'unreadable' as const;
      throw err;
    });
    if (campaign === null) {
      // Deleted: nothing to send, and nothing to write under a campaign that is no more.
      await store.drop(id, lease);
      log.warn({ campaignId: d.campaignId, delivery: d.delivery }, 'notification dropped: its campaign was deleted');
      return;
    }
    if (campaign === 'unreadable' || !campaign.definition.webhook) {
      return giveUpRetry(d, lease, d.tries, 'campaign_gone', `campaign ${d.campaignId} is unreadable or has no webhook; last error: ${d.lastError}`);
    }
    if (stopping.signal.aborted) {
      await store.release(id, lease, now());
      return;
    }
    const res = await send(campaign, d.body, d.delivery, tries);
    const facts = { delivery: d.delivery, campaignId: d.campaignId, contact: d.contact, status: d.status, tries };
    if (res.ok) {
      if (await store.retryDelivered(d, lease)) events.emit('notification:delivered', { ...facts, httpStatus: res.httpStatus });
      return;
    }
    if (res.aborted) {
      await store.release(id, lease, now());
      return;
    }
    const t = now();
    const next = res.permanent ? ({ kind: 'give_up', reason: 'permanent' } as const) : afterFailure(o, { tries, firstAt: d.firstAt, now: t, random });
    if (next.kind === 'give_up') return giveUpRetry(d, lease, tries, next.reason, res.error);
    if (await store.retryLater(d, lease, next.at, tries, t, res.error)) {
      log.warn(
        { campaignId: d.campaignId, contact: d.contact, delivery: d.delivery, origin: origin(campaign.definition.webhook.url), httpStatus: res.httpStatus, code: res.code, tries, nextAt: new Date(next.at).toISOString() },
        'notification not acknowledged: will retry',
      );
      events.emit('notification:retrying', { ...facts, nextAt: next.at, error: res.error });
    }
  }

  function guarded(what: string, fn: () => Promise<void>): Promise<void> {
    return limit(async () => {
      try {
        await fn();
      } catch (err) {
        // Left as it is: the entry stays pending (taken over later), the retry's lease runs out.
        log.error({ err, item: what }, 'notification step failed');
      }
    });
  }

  let current: Promise<{ entries: number; retries: number }> | null = null;

  /** One pass: entries taken over from silent consumers, new entries, due retries. */
  function tick(): Promise<{ entries: number; retries: number }> {
    current ??= pass().finally(() => {
      current = null;
    });
    return current;
  }

  async function pass(): Promise<{ entries: number; retries: number }> {
    if (stopping.signal.aborted) return { entries: 0, retries: 0 };
    if (!groupReady) {
      await outbox.ensureGroup();
      groupReady = true;
    }
    const claimed = await outbox.claimStale(o.claimAfterMs, claimCursor, o.batch);
    claimCursor = claimed.next;
    const fresh = await outbox.readNew(o.batch);
    const entries = [...claimed.entries, ...fresh];
    const t = now();
    const lease = t + o.leaseMs;
    const due = await store.leaseDue(t, lease, o.batch);
    await Promise.all([
      ...entries.map((e) => guarded(e.ok ? e.entry.id : e.id, () => handleEntry(e))),
      ...due.map((id) => guarded(id, () => handleRetry(id, lease))),
    ]);
    return { entries: entries.length, retries: due.length };
  }

  /** Cuts requests in flight short (they are sent again later), closes the pools, leaves the group when holding nothing. */
  async function close(): Promise<void> {
    stopping.abort();
    if (current) await current.catch(() => undefined);
    await sender.close();
    if (groupReady) await outbox.leave().catch(() => false);
  }

  return { events, options: o, tick, close, store };
}

export type Notifier = ReturnType<typeof makeNotifier>;

export interface RunningNotifier extends Notifier {
  /** Runs one pass now (after the current one, if any). */
  kick(): Promise<void>;
  stop(): Promise<void>;
}

/** A notifier polling every `pollMs`; `stop()` ends it cleanly. */
export function startNotifier(deps: NotifierDeps): RunningNotifier {
  const n = makeNotifier(deps);
  const loop = startLoop('notifier', n.options.pollMs, () => n.tick(), deps.log);
  let stopped: Promise<void> | null = null;
  return {
    ...n,
    kick: () => loop.kick(),
    stop() {
      // close() aborts what is in flight first, so the pass the loop waits for ends quickly.
      stopped ??= (async () => {
        const done = loop.stop();
        await n.close();
        await done;
      })();
      return stopped;
    },
  };
}
