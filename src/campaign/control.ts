/**
 * Operator controls on a running campaign: pause, resume, cancel, pace.
 * Pause is BullMQ's global queue pause (every worker stops fetching at once)
 * plus the campaign state every worker re-reads within a second.
 */
import type { CampaignStore } from '../store/campaigns.js';
import type { QueueRegistry } from '../infra/queues.js';
import type { Pacer, PaceLimits } from '../pacing/types.js';
import type { CampaignCache } from './runtime.js';
import type { DialerEvents } from '../engine/events.js';

export class ControlError extends Error {
  readonly code = 'ERR_CAMPAIGN_CONTROL';
}

export function makeCampaignControl(deps: {
  campaigns: CampaignStore;
  cache: CampaignCache;
  queues: QueueRegistry;
  pacer: Pacer;
  events: DialerEvents;
}) {
  const { campaigns, cache, queues, pacer, events } = deps;

  async function pause(id: string, reason = 'paused by operator'): Promise<void> {
    const c = await campaigns.require(id);
    if (c.state === 'paused') return;
    if (!(await campaigns.setState(id, 'paused', reason))) throw new ControlError(`campaign ${id} is ${c.state}: it cannot be paused`);
    await queues.get(id).pause();
    cache.invalidate(id);
    events.emit('campaign:state', { campaignId: id, state: 'paused', reason });
  }

  async function resume(id: string): Promise<void> {
    const c = await campaigns.require(id);
    if (c.state !== 'paused') throw new ControlError(`campaign ${id} is ${c.state}: only a paused campaign can be resumed`);
    await campaigns.setState(id, c.importDone ? 'running' : 'importing');
    await queues.get(id).resume();
    cache.invalidate(id);
    events.emit('campaign:state', { campaignId: id, state: 'running', reason: null });
  }

  /**
   * Cancels: no new dial starts; contacts not yet dialed become `cancelled`
   * (the feeder drains them); calls already placed finish and are recorded.
   */
  async function cancel(id: string): Promise<void> {
    const c = await campaigns.require(id);
    if (c.state === 'cancelled') return;
    if (!(await campaigns.setState(id, 'cancelled'))) throw new ControlError(`campaign ${id} is ${c.state}: it cannot be cancelled`);
    // Jobs still waiting are ended by the processor as cancelled; resume so they drain.
    await queues.get(id).resume();
    cache.invalidate(id);
    events.emit('campaign:state', { campaignId: id, state: 'cancelled', reason: null });
  }

  async function pace(id: string, limits: Partial<PaceLimits>): Promise<PaceLimits> {
    await campaigns.require(id);
    const current = await pacer.getCampaignLimits(id);
    const next: PaceLimits = { cps: limits.cps ?? current.cps, maxConcurrent: limits.maxConcurrent ?? current.maxConcurrent };
    await pacer.setCampaignLimits(id, next);
    return next;
  }

  return { pause, resume, cancel, pace };
}

export type CampaignControl = ReturnType<typeof makeCampaignControl>;
