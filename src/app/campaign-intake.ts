/**
 * Campaigns as they come in (upload, CLI, schedules): a definition parsed with
 * this deployment's defaults and checked against its providers and its rule on
 * private addresses; a campaign made and its list imported; contacts added;
 * dry runs timed at the pace the campaign would run at.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { providerUnavailable, type Config } from '../config.js';
import type { ProviderFamily } from '../domain/types.js';
import type { Keys } from '../store/keys.js';
import type { CampaignStore } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import type { Pacer } from '../pacing/types.js';
import type { AccountLimitStore } from '../pacing/account-limits.js';
import { effectivePace, type CampaignLabels, type EffectivePace } from '../campaign/pace.js';
import { parseCampaignDefinition, DefinitionError, type CampaignDefinition } from '../campaign/definition.js';
import { importContactList, dryRunContactList, type DryRunSummary, type ImportProgress, type ImportSummary } from '../campaign/import.js';
import { literalAddressRefusal } from '../notify/address-guard.js';
import type { ByteSource } from '../ingest/source.js';
import type { CampaignSchedule } from '../schedule/index.js';

export interface CampaignIntakeDeps {
  config: Pick<Config, 'providers' | 'missing' | 'defaultRegion' | 'frequency' | 'notifier' | 'accountLimits'>;
  /** The adapters in use: a provider given one counts as configured. */
  providers: Pick<ReadonlyMap<ProviderFamily, unknown>, 'has'>;
  redis: Redis;
  keys: Keys;
  campaigns: CampaignStore;
  contacts: ContactStore;
  pacer: Pick<Pacer, 'setCampaignLimits'>;
  accountLimits: Pick<AccountLimitStore, 'current'>;
  now: () => number;
  log: Logger;
}

export function makeCampaignIntake(deps: CampaignIntakeDeps) {
  const { config, providers, redis, keys, campaigns, pacer, accountLimits } = deps;
  const importDeps = { redis, keys, campaigns, contacts: deps.contacts, now: deps.now, log: deps.log };

  /** Parses a raw definition with this deployment's defaults and checks its provider is configured. */
  function definition(raw: unknown): CampaignDefinition {
    const def = parseCampaignDefinition(raw, {
      timezone: (config.providers.sipcall ?? config.providers.pbx)?.timezone ?? 'UTC',
      region: config.defaultRegion,
      frequencyHistoryMs: config.frequency.historyMs,
    });
    const missing = providerUnavailable(config, def.provider);
    if (missing && !providers.has(def.provider)) throw new DefinitionError([missing]);
    // A webhook written as a refused address is refused now; a name is checked each time it is resolved.
    const refused = def.webhook && config.notifier.privateAddresses === 'deny' ? literalAddressRefusal(new URL(def.webhook.url)) : null;
    if (refused) throw new DefinitionError([`webhook.url: ${refused.message}`]);
    return def;
  }

  async function createCampaign(
    def: CampaignDefinition,
    source: ByteSource,
    fileName: string,
    opts: { onProgress?: (p: ImportProgress) => void; id?: string; schedule?: CampaignSchedule } = {},
  ): Promise<{ id: string; summary: ImportSummary }> {
    // A scheduled run comes with its id: made here, or (a run cut short while importing) finished here.
    const id = opts.id ?? (await campaigns.create(def));
    if (opts.id !== undefined) await campaigns.createWithId(opts.id, def, opts.schedule ?? null);
    await pacer.setCampaignLimits(id, { cps: def.cps, maxConcurrent: def.maxConcurrent });
    try {
      const summary = await importContactList(importDeps, id, source, fileName, opts);
      return { id, summary };
    } catch (err) {
      // A list that cannot be read at all leaves no half campaign behind.
      await campaigns.setState(id, 'cancelled');
      await campaigns.finishImport(id, { error: (err as Error).message }, 'running');
      throw err;
    }
  }

  async function addContacts(id: string, source: ByteSource, fileName: string, opts: { onProgress?: (p: ImportProgress) => void } = {}) {
    return importContactList(importDeps, id, source, fileName, opts);
  }

  /** The pace a campaign of this definition runs at: the tighter of its own limits and its account's, with their sources. */
  async function pace(def: CampaignDefinition, labels?: CampaignLabels): Promise<EffectivePace> {
    const account = await accountLimits.current(def.provider, config.accountLimits[def.provider]);
    return effectivePace(def.provider, { cps: def.cps, maxConcurrent: def.maxConcurrent }, account, labels);
  }

  /** A dry run's duration at the effective pace (the account's rate holds a campaign with no rate of its own). */
  async function atEffectivePace<T extends DryRunSummary>(def: CampaignDefinition, summary: T): Promise<T> {
    const { cps } = await pace(def);
    return { ...summary, estimatedSeconds: cps > 0 ? Math.ceil(summary.added / cps) : null };
  }

  /** What a list would add (to a new campaign, or to `existingCampaignId`), stored nowhere. */
  async function dryRun(def: CampaignDefinition, source: ByteSource, fileName: string, existingCampaignId: string | null = null) {
    return atEffectivePace(def, await dryRunContactList({ redis, keys }, def, source, fileName, existingCampaignId));
  }

  return { definition, createCampaign, addContacts, pace, dryRun };
}

export type CampaignIntake = ReturnType<typeof makeCampaignIntake>;
