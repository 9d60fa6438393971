/**
 * A campaign's effective pace: the tighter of its own limits and its provider
 * account's (0 = no limit), each with where it comes from, in words a user
 * can act on. Pure: the limits are read elsewhere.
 */
import type { ProviderFamily } from '../domain/types.js';
import type { PaceLimits } from '../pacing/types.js';
import { ACCOUNT_LIMIT_VARS, type AccountPace, type LimitOrigin } from '../pacing/account-limits.js';

/** The tighter of two limits, 0 meaning none. */
function tighter(a: number, b: number): number {
  if (a <= 0) return Math.max(b, 0);
  if (b <= 0) return a;
  return Math.min(a, b);
}

/** The limits that hold a campaign: the tighter of its own and its account's, field by field. */
export function combineLimits(campaign: PaceLimits, account: PaceLimits): PaceLimits {
  return { cps: tighter(campaign.cps, account.cps), maxConcurrent: tighter(campaign.maxConcurrent, account.maxConcurrent) };
}

export type PaceSource = 'campaign' | 'account' | 'none';

export interface EffectivePace extends PaceLimits {
  /** Which limit holds the rate (the campaign's when both are equal). */
  cpsSource: PaceSource;
  maxConcurrentSource: PaceSource;
  campaign: PaceLimits;
  account: AccountPace & { name: ProviderFamily };
  /** `pace: 10 calls/s (account sipcall default; …), channels: no limit`. */
  text: string;
}

/** How the campaign's own limits were given, for the text (`campaign --cps`, `definition cps`). */
export interface CampaignLabels {
  cps: string;
  maxConcurrent: string;
}

const DEFAULT_LABELS: CampaignLabels = { cps: 'campaign cps', maxConcurrent: 'campaign maxConcurrent' };

function sourceOf(campaign: number, account: number): PaceSource {
  if (campaign <= 0 && account <= 0) return 'none';
  if (account <= 0 || (campaign > 0 && campaign <= account)) return 'campaign';
  return 'account';
}

/** `account sipcall, SIPCALL_MAX_CPS`; `below` (the campaign's own, higher limit) goes before any hint. */
function accountWords(name: ProviderFamily, origin: LimitOrigin, variable: string, below: string): string {
  if (origin === 'operator') return `account ${name}, set by autodialer account pace${below}`;
  if (origin === 'env') return `account ${name}, ${variable}${below}`;
  return `account ${name} default${below}; set ${variable} or autodialer account pace`;
}

function limitText(
  field: 'cps' | 'maxConcurrent',
  name: ProviderFamily,
  campaign: number,
  account: AccountPace,
  label: string,
  format: (n: number) => string,
): string {
  const variable = ACCOUNT_LIMIT_VARS[name][field];
  const origin = field === 'cps' ? account.cpsFrom : account.maxConcurrentFrom;
  const source = sourceOf(campaign, account[field]);
  if (source === 'none') {
    // Unlimited on purpose (the account set to 0), or by default (channels).
    return origin === 'default' ? 'no limit' : `no limit (${accountWords(name, origin, variable, '')})`;
  }
  if (source === 'campaign') return `${format(campaign)} (${label})`;
  const below = campaign > 0 ? `, below ${label} (${campaign})` : '';
  return `${format(account[field])} (${accountWords(name, origin, variable, below)})`;
}

/** The pace a campaign runs at, given its own limits and its account's. */
export function effectivePace(name: ProviderFamily, campaign: PaceLimits, account: AccountPace, labels: CampaignLabels = DEFAULT_LABELS): EffectivePace {
  const limits = combineLimits(campaign, account);
  const rate = limitText('cps', name, campaign.cps, account, labels.cps, (n) => `${n} calls/s`);
  const channels = limitText('maxConcurrent', name, campaign.maxConcurrent, account, labels.maxConcurrent, String);
  return {
    ...limits,
    cpsSource: sourceOf(campaign.cps, account.cps),
    maxConcurrentSource: sourceOf(campaign.maxConcurrent, account.maxConcurrent),
    campaign: { cps: campaign.cps, maxConcurrent: campaign.maxConcurrent },
    account: { name, ...account },
    text: `pace: ${rate}, channels: ${channels}`,
  };
}
