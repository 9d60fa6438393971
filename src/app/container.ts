/**
 * The composition root: builds every store and service once, with its
 * dependencies, and starts the roles (worker, server) on demand.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { connectRedis, duplicateRedis, quietErrors, watchRedis } from '../infra/redis.js';
import { createLogger } from '../infra/logger.js';
import { makeQueueRegistry, type QueueRegistry } from '../infra/queues.js';
import { startLoop, type Loop } from '../infra/loop.js';
import { sleep } from '../infra/clock.js';
import { keys as makeKeys } from '../store/keys.js';
import { makeCampaignStore } from '../store/campaigns.js';
import { makeContactStore } from '../store/contacts.js';
import { makeAttemptStore } from '../store/attempts.js';
import { makeReplicaAcks } from '../store/replica-acks.js';
import { makeCallbackLog } from '../store/callback-log.js';
import { makeCampaignPurge } from '../campaign/purge.js';
import { makeDncStore } from '../store/dnc.js';
import { createRedisPacer } from '../pacing/index.js';
import { accountKeys, campaignKeys } from '../pacing/keys.js';
import { makeAccountLimitStore } from '../pacing/account-limits.js';
import type { PaceLimits } from '../pacing/types.js';
import { combineLimits } from '../campaign/pace.js';
import { createProviders } from '../providers/index.js';
import type { ProviderAdapter } from '../providers/types.js';
import type { ProviderFamily } from '../domain/types.js';
import { makeCampaignCache } from '../campaign/runtime.js';
import { makeCampaignControl } from '../campaign/control.js';
import { DialerEvents } from '../engine/events.js';
import { makeAttemptService } from '../engine/attempts.js';
import { makeCallbackReceiver } from '../correlation/receiver.js';
import { makeStatusReport } from '../reports/status.js';
import { makeDialRate } from '../store/dial-rate.js';
import { makeCapWaits } from '../store/cap-waits.js';
import { deadLetters, notificationCounts, resendDeadLetters, startNotifier, type DeadLetter, type NotifierOptionsInput } from '../notify/index.js';
import { makeFeeder, type FeederOptions } from '../dispatch/feeder.js';
import { makeDeadlineSweeper } from '../dispatch/sweeper.js';
import { failoverRecovery } from '../dispatch/failover-recovery.js';
import { makeDialProcessor, readJobData } from '../dispatch/processor.js';
import { startDialWorkers, type DialWorkers } from '../dispatch/workers.js';
import type { UploadLimits } from '../http/upload.js';
import type { HttpLimits } from '../http/limits.js';
import { dashboardAddress, resolveApiTokens } from '../http/api-token.js';
import { makeSchedules } from '../schedule/index.js';
import { makeHistory } from '../history/index.js';
import { makeCampaignSummary } from '../history/summary.js';
import { makeArchivedStatus } from '../reports/archived-status.js';
import { makeMetrics, type Metrics } from '../reports/metrics.js';
import { makeMetricsTally } from '../reports/metrics-tally.js';
import { openContacts, DEFAULT_CONTACTS_OPTIONS } from '../schedule/contacts.js';
import { SCHEDULE_QUEUE } from '../schedule/queue.js';
import { timedProviders } from './timed-providers.js';
import { makeServerLoops } from './server-loops.js';
import { makeCampaignIntake } from './campaign-intake.js';
import { makeAccountLimitsApply } from './account-limits.js';
import { startCorrelatorLoop, type CorrelatorOptions } from './correlator-loop.js';
import { readFileSync } from 'node:fs';
import { Queue } from 'bullmq';

/** The package's version (what /openapi.json states). */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export interface ContainerOptions {
  log?: Logger;
  redis?: Redis;
  now?: () => number;
  random?: () => number;
  /** Adapters to use instead of those built from the configuration. */
  providers?: Map<ProviderFamily, ProviderAdapter>;
  /** Grace after a pbx ring timeout before "no answer, no CDR". */
  pbxGraceMs?: number;
}

export async function createContainer(config: Config, options: ContainerOptions = {}) {
  const log = options.log ?? createLogger({ level: config.logLevel });
  const ownsRedis = options.redis === undefined;
  /** BullMQ's connection (it makes its own blocking ones from it). */
  const bullRedis = options.redis ?? (await connectRedis(config.redis));
  /**
   * The stores' connection: concurrent commands (many attempts and callbacks in flight)
   * share round trips through ioredis auto-pipelining. No blocking command runs on it.
   */
  const redis = duplicateRedis(bullRedis, { enableAutoPipelining: true, lazyConnect: false });
  // While Redis is away, commands wait for it and the connections retry quietly (one line when lost, one when back);
  // the HTTP routes ask `redisWatch` and answer 503 instead of waiting.
  const redisWatch = watchRedis(redis, { log, name: 'stores', probeEveryMs: 1000, probeTimeoutMs: 2000 });
  const bullWatch = ownsRedis ? watchRedis(bullRedis, { log, name: 'queues' }) : null;
  /**
   * With AUTODIALER_REPLICA_ACKS, attempts' begins have a connection of their own: each turn's begins are followed
   * there by one WAIT for the replicas, which blocks that connection (never the stores') until they answer.
   */
  const acksRedis = config.replicaAcks.replicas > 0 ? duplicateRedis(bullRedis, { lazyConnect: false }) : null;
  const acksWatch = acksRedis ? watchRedis(acksRedis, { log, name: 'begins' }) : null;
  const now = options.now ?? (() => Date.now());
  const random = options.random ?? Math.random;
  const keys = makeKeys(config.prefix);
  const events = new DialerEvents();
  events.setMaxListeners(1000);
  /** This process's dials, results and provider requests, added to the deployment's metrics in Redis (reports/metrics-tally.ts). */
  const tally = makeMetricsTally({ events, redis, prefix: config.prefix, now });

  const campaigns = makeCampaignStore({ redis, keys, now });
  const contacts = makeContactStore({ redis, keys });
  const attempts = makeAttemptStore({
    redis,
    keys,
    acks: acksRedis ? makeReplicaAcks({ redis: acksRedis, replicas: config.replicaAcks.replicas, timeoutMs: config.replicaAcks.timeoutMs }) : null,
  });
  const callbackLog = makeCallbackLog({ redis, keys });
  const dnc = makeDncStore({ redis, keys });
  const pacer = createRedisPacer({ redis, prefix: config.prefix });
  const accountLimits = makeAccountLimitStore({ redis, prefix: config.prefix, pacer });
  const cache = makeCampaignCache({ campaigns, now });
  const queueRegistry = makeQueueRegistry({ connection: bullRedis, bullPrefix: keys.bullPrefix });
  /** The same registry, each queue's connection errors handled (BullMQ prints those nobody listens to). */
  const queues: QueueRegistry = {
    ...queueRegistry,
    get(id) {
      const q = queueRegistry.get(id);
      if (q.listenerCount('error') === 0) quietErrors(q, { log, name: `queue ${id}` });
      return q;
    },
  };
  const providers = options.providers ?? createProviders(config);
  const control = makeCampaignControl({ campaigns, cache, queues, pacer, events });
  /** The history store (PostgreSQL at DATABASE_URL) and its archiver; without one, the reads still say where contacts went. */
  const history = makeHistory({
    databaseUrl: config.history.databaseUrl,
    redis,
    keys,
    prefix: config.prefix,
    campaigns,
    callbackLog,
    summary: makeCampaignSummary({ redis, keys, campaigns, contacts, callbackLog, pacer }),
    shrink: (cid) => purge.shrink(cid),
    now,
    log,
    options: { redisKeepMs: config.history.redisKeepMs },
    callbackThread: config.history.callbackThread ? { redis: config.redis, logLevel: config.logLevel } : null,
  });
  const purge = makeCampaignPurge({ redis, keys, prefix: config.prefix, campaigns, cache, queues, history: history.archiver ? history : null });
  /** How long a dial request may take (the adapter's connect + response timeouts), per provider. */
  const requestTimeoutMs = (family: ProviderFamily): number => {
    const p = config.providers[family];
    return p ? p.connectTimeoutMs + p.responseTimeoutMs : 30_000;
  };
  const service = makeAttemptService({
    attempts,
    contacts,
    campaigns: cache,
    pacer,
    events,
    now,
    random,
    log,
    ...(options.pbxGraceMs !== undefined ? { pbxGraceMs: options.pbxGraceMs } : {}),
    requestTimeoutMs,
    // An attempt's end frees its channel in the same commit (the pacer's hold keys, same Redis).
    holdKeys: (family, campaignId) => [campaignKeys(config.prefix, campaignId).holds, accountKeys(config.prefix, family).holds],
    pauseCampaign: async (id, reason) => {
      try {
        await control.pause(id, reason);
        log.error({ campaignId: id, reason }, 'campaign paused');
      } catch (err) {
        log.error({ err, campaignId: id }, 'could not pause campaign');
      }
    },
  });
  const receiver = makeCallbackReceiver({
    redis,
    keys,
    callbackLog,
    attempts,
    service,
    events,
    log,
    settings: {
      sipcallTimezone: config.providers.sipcall?.timezone ?? 'Asia/Shanghai',
      pbxTimezone: config.providers.pbx?.timezone ?? 'Asia/Tehran',
      pbxCallIdField: config.providers.pbx?.callIdField ?? 'originated_call_id',
      ...(config.outcomeTables.sipcall ? { sipcallOutcomes: config.outcomeTables.sipcall } : {}),
      ...(config.outcomeTables.pbx ? { pbxDispositions: config.outcomeTables.pbx } : {}),
    },
    // A correlator's interpretations wait on Redis round trips, not on this process's CPU: many run at once.
    ...(config.correlateIn === 'worker' ? { options: { deferred: true, concurrency: 256 } } : {}),
  });
  const capWaits = makeCapWaits({ redis, keys });
  const status = makeStatusReport({
    campaigns,
    contacts,
    callbackLog,
    pacer,
    notifications: (id) => notificationCounts(redis, keys, id),
    dialRate: makeDialRate({ redis, keys }),
    capWaits,
    archived: history.store ? makeArchivedStatus({ history, pacer }) : undefined,
  });
  /** What the exports read: Redis, and the history store for contacts that have left Redis. */
  const reportReads = { campaigns, contacts, attempts, history };
  /** Given-up notifications: listed (newest first, without their bodies), and sent again on request. */
  const notifications = {
    failed: (cid: string, limit?: number): Promise<DeadLetter[]> => deadLetters(redis, keys, cid, limit),
    resend: (cid: string): Promise<{ resent: number; kept: number }> => resendDeadLetters(redis, keys, cid, now()),
  };

  /** Definitions parsed with this deployment's defaults, campaigns made and their lists imported, dry runs at their pace. */
  const intake = makeCampaignIntake({ config, providers, redis, keys, campaigns, contacts, pacer, accountLimits, now, log });
  const { definition, createCampaign, addContacts, pace, dryRun } = intake;

  /** Scheduled campaigns: definition files synced to job schedulers, each tick a campaign made through createCampaign. */
  const schedules = makeSchedules({
    connection: bullRedis,
    redis,
    prefix: config.prefix,
    bullPrefix: keys.bullPrefix,
    jobsDir: config.jobsDir,
    campaigns,
    definition,
    createCampaign: (def, source, fileName, opts) => createCampaign(def, source, fileName, opts),
    discard: async (id) => void (await purge.purge(id)),
    contacts: { privateAddresses: config.notifier.privateAddresses ?? 'allow' },
    now,
    log,
  });

  /** The limits that hold a campaign's dials (they decide how its contacts are grouped into jobs). */
  async function dialLimits(id: string): Promise<PaceLimits> {
    const [c, own] = await Promise.all([cache.get(id), pacer.getCampaignLimits(id)]);
    return c ? combineLimits(own, await pacer.getAccountLimits(c.record.definition.provider)) : own;
  }

  /** The environment's account limits put in force once a dialing role starts here. */
  const applyAccountLimits = makeAccountLimitsApply({ config, accountLimits, log });

  const running: { loops: Pick<Loop, 'stop'>[]; workers: DialWorkers | null; app: FastifyInstance | null } = { loops: [], workers: null, app: null };

  let tallyLoop: Loop | null = null;
  /** Once a role runs here: what this process counted goes to Redis every 2 s, and once more as it stops. */
  function startTally(): void {
    if (tallyLoop) return;
    tallyLoop = startLoop('metrics', 2000, () => tally.flush(), log);
  }

  /** Interprets stored callbacks that wait in the log (AUTODIALER_CORRELATE_IN=worker). */
  function startCorrelator(opts: CorrelatorOptions = {}): Loop {
    startTally();
    const correlator = startCorrelatorLoop({ receiver, log }, opts);
    running.loops.push(correlator);
    return correlator;
  }

  /** Workers, feeder and deadline sweeper in this process. */
  function startWorker(
    opts: { concurrency?: number; feeder?: Partial<FeederOptions>; feedEveryMs?: number; sweepEveryMs?: number; workersEveryMs?: number; notifier?: NotifierOptionsInput } = {},
  ) {
    applyAccountLimits();
    startTally();
    const failover = failoverRecovery({ redis, keys, queues, log });
    const feeder = makeFeeder({ campaigns, cache, contacts, queues, service, pacer, now, log, failover, ...(opts.feeder ? { options: opts.feeder } : {}) });
    const sweeper = makeDeadlineSweeper({ attempts, service, now, log });
    const processor = makeDialProcessor({
      safetyMarginMs: config.pacingMarginMs,
      // How long a dial request may be out: the bound on its arrival that the send-time admission logs until it lands.
      requestTimeoutMs,
      // Each request timed (provider:request events, for the metrics).
      providers: timedProviders(providers, events),
      service,
      campaigns: cache,
      contacts,
      dnc,
      pacer,
      queues,
      now,
      sleep: (ms) => sleep(ms),
      log,
      pauseCampaign: (id, reason) => control.pause(id, reason).catch(() => undefined),
      frequency: config.frequency,
      capWaits,
    });
    events.on('attempt:dialed', ({ attemptId, kind, family, providerCallId }) => {
      if (kind !== 'accepted' || family !== 'pbx' || !providerCallId) return;
      void receiver.adoptParked(providerCallId).catch((err: unknown) => log.error({ err, attemptId }, 'adopting a parked CDR failed'));
    });
    running.loops.push(startLoop('feeder', opts.feedEveryMs ?? 250, () => feeder.tick(), log));
    running.loops.push(startLoop('sweeper', opts.sweepEveryMs ?? 500, () => sweeper.tick(), log));
    if (config.correlateIn === 'worker') startCorrelator();
    // Outbound notifications; stopped with the other loops in close().
    // The environment's options (config), with what the caller passes over them.
    const notifier = startNotifier({ redis, keys, campaigns, contacts, attempts, now, random, log, options: Object.assign({}, config.notifier, opts.notifier) });
    running.loops.push(notifier);
    running.workers = startDialWorkers({
      campaigns,
      cache,
      connection: bullRedis,
      bullPrefix: keys.bullPrefix,
      processor,
      concurrency: opts.concurrency ?? config.workerConcurrency,
      limits: dialLimits,
      log,
      ...(opts.workersEveryMs !== undefined ? { pollMs: opts.workersEveryMs } : {}),
      // Contacts of a failed job that were not begun go back to the due set (a begun one ends by its deadline).
      onFailed: async (cid, data) => {
        const job = readJobData(data);
        if (!job) return;
        for (const k of job.contacts) await service.requeue(cid, k.idx, k.n, now());
      },
    });
    return { feeder, sweeper, workers: running.workers, notifier };
  }

  async function startServer(
    opts: { port?: number; host?: string; upload?: Partial<UploadLimits>; retentionEveryMs?: number; limits?: Partial<HttpLimits> } = {},
  ): Promise<FastifyInstance> {
    // AUTODIALER_API_TOKEN, or the deployment's own (made at the first start, kept in Redis).
    const api = await resolveApiTokens({ redis, prefix: config.prefix, configured: config.apiTokens });
    applyAccountLimits();
    startTally();
    // The web server and its plugins are loaded by the roles that serve, not by every command (about 20 MB of RSS).
    const { buildApp } = await import('../http/app.js');
    const app = await buildApp({
      log,
      redis,
      redisWatch,
      callbacks: { receiver, callbackLog, secret: config.callbackSecret, auth: config.callbackAuth, allowIps: config.callbackAllowIps, now },
      api: { ...reportReads, status, control, notifications, purge, schedules },
      metrics: { metrics: metricsRegistry() },
      queueBoard: { connection: bullRedis, bullPrefix: keys.bullPrefix, campaignIds: () => campaigns.list() },
      version: packageVersion(),
      dashboard: { campaigns, status, queues },
      upload: {
        definition,
        createCampaign: (def, source, fileName) => createCampaign(def, source, fileName),
        addContacts: (id, source, fileName) => addContacts(id, source, fileName),
        dryRun: (def, source, fileName, existing) => dryRun(def, source, fileName, existing),
        campaigns,
        // A JSON definition's contacts URL: as a scheduled run's, under the webhooks' rule on private addresses.
        openUrl: (url) => openContacts({ kind: 'url', url }, { ...DEFAULT_CONTACTS_OPTIONS, privateAddresses: config.notifier.privateAddresses ?? 'allow' }),
        limits: { fileBytes: config.uploadMaxBytes, ...opts.upload },
      },
      apiTokens: api.tokens,
      trustedOrigins: config.publicUrl ? [config.publicUrl] : [],
      trustProxy: config.trustProxy,
      ...(opts.limits ? { limits: opts.limits } : {}),
    });
    const host = opts.host ?? config.httpHost;
    await app.listen({ port: opts.port ?? config.httpPort, host });
    running.app = app;
    // Callback recovery and, without a history store, the retentions of callbacks and finished campaigns.
    const loops = makeServerLoops({
      redis,
      keys,
      campaigns,
      receiver,
      purge: (id) => purge.purge(id),
      archiving: history.archiver !== null,
      correlateIn: config.correlateIn,
      callbackRetentionMs: config.callbackRetentionMs,
      historyRetentionMs: config.historyRetentionMs,
      ...(opts.retentionEveryMs !== undefined ? { retentionEveryMs: opts.retentionEveryMs } : {}),
      now,
      log,
    });
    running.loops.push(loops);
    loops.start();
    if (api.source === 'generated') {
      // Once, at the deployment's first start: the only place the generated token is shown.
      const address = app.server.address();
      const port = typeof address === 'object' && address ? address.port : config.httpPort;
      const base = config.publicUrl ?? `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`;
      log.warn({ dashboard: dashboardAddress(base, api.tokens[0]!) }, 'no AUTODIALER_API_TOKEN: an API token was made and kept in Redis; open the dashboard at this address, or send the token as Authorization: Bearer');
    } else if (api.source === 'stored') {
      log.info({ redisKey: `${config.prefix}:api-token` }, 'API token: the one this deployment made at its first start (kept at redisKey); set AUTODIALER_API_TOKEN to choose your own');
    }
    return app;
  }

  /**
   * The archiver (with a history store): the schema brought up to date, then
   * finished calls, contacts and callbacks moved there continuously. Null
   * without DATABASE_URL.
   */
  async function startArchiver(): Promise<Loop | null> {
    if (!history.archiver || !history.store) return null;
    await history.store.ready();
    const loop = history.archiver.start();
    running.loops.push(loop);
    void loop.kick();
    return loop;
  }

  let metrics: Metrics | null = null;
  let scheduleQueue: Queue | null = null;
  /** The one prom-client registry of this process (made when the server first needs it). */
  function metricsRegistry(): Metrics {
    if (metrics) return metrics;
    metrics = makeMetrics({
      redis,
      prefix: config.prefix,
      callbackLog,
      campaigns,
      notifications: (id) => notificationCounts(redis, keys, id),
      status,
      dialQueueCounts: (id) => queues.get(id).getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed'),
      scheduleQueueCounts: () => {
        if (!scheduleQueue) {
          scheduleQueue = new Queue(SCHEDULE_QUEUE, { connection: bullRedis, prefix: keys.bullPrefix });
          quietErrors(scheduleQueue, { log, name: 'schedule queue (metrics)' });
        }
        return scheduleQueue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed');
      },
    });
    return metrics;
  }

  /** Stops the roles: no new jobs, jobs in hand get `graceMs` to finish; then connections close. */
  async function close(graceMs = config.shutdownGraceMs): Promise<void> {
    for (const l of running.loops) await l.stop();
    running.loops = [];
    if (running.workers) await running.workers.stop(graceMs);
    running.workers = null;
    if (running.app) await running.app.close();
    running.app = null;
    // What this process counted since the last flush, before the connection closes.
    if (tallyLoop) {
      await tallyLoop.stop();
      tallyLoop = null;
      await tally.flush().catch((err: unknown) => log.warn({ err }, 'could not add the last counts to the metrics'));
    }
    tally.detach();
    await scheduleQueue?.close();
    scheduleQueue = null;
    await schedules.close();
    await queues.closeAll();
    await Promise.all([...providers.values()].map((p) => p.close()));
    await history.close();
    redisWatch.stop();
    bullWatch?.stop();
    acksWatch?.stop();
    await acksRedis?.quit();
    await redis.quit();
    if (ownsRedis) await bullRedis.quit();
  }

  return {
    config,
    log,
    redis,
    keys,
    events,
    campaigns,
    contacts,
    attempts,
    callbackLog,
    dnc,
    pacer,
    accountLimits,
    cache,
    queues,
    providers,
    control,
    purge,
    service,
    receiver,
    status,
    notifications,
    definition,
    createCampaign,
    addContacts,
    dryRun,
    pace,
    schedules,
    history,
    tally,
    metrics: metricsRegistry,
    startWorker,
    startCorrelator,
    startServer,
    startArchiver,
    close,
  };
}

export type Container = Awaited<ReturnType<typeof createContainer>>;
