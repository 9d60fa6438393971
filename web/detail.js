// One campaign in detail: its facts, its calls over time and its contacts by status.

import { h, int, label, patch, rate, relative, STATUSES, wallTime } from './dom.js';
import { actionButtons, ended, windowText } from './campaigns.js';

/** An instant in the browser's own time, and how far it is. */
const at = (iso) => (iso ? `${wallTime(Date.parse(iso))} (${relative(Date.parse(iso))})` : '–');

function facts(c, schedule) {
  const s = c.status;
  const ch = s.channels;
  const q = c.queue;
  const cb = s.callbacks;
  const n = s.notifications;
  const keys = Object.entries(s.keypresses ?? {});
  const w = windowText(c.window);
  return [
    ['state', s.state + (s.pausedReason ? ` (${s.pausedReason})` : '')],
    ['progress', `${int(s.final)} of ${int(s.total)} contacts final`],
    ['in flight', `${int(s.inFlight)} calls`],
    ['waiting', `${int(s.ready)} ready, ${int(s.scheduled)} scheduled later`],
    s.retriesScheduled ? ['retries', `${int(s.retriesScheduled)} scheduled so far`] : null,
    ['next due', at(s.nextDueAt)],
    ended(s.state) ? null : ['rate now', `${s.rateNow === null ? '–' : `${rate(s.rateNow)}/s`} of ${s.targetRate === null ? 'no limit' : `${rate(s.targetRate)}/s`}`],
    ['held by', s.heldBy.text],
    ['channels', ch.cap === null ? `${int(ch.inUse)} (no cap)` : `${int(ch.inUse)} / ${int(ch.cap)} (${ch.capSource === 'account' ? `account ${s.provider}` : 'campaign'})`],
    ['limits', `${s.pace.cps ? `${rate(s.pace.cps)} calls/s` : 'no rate limit'}, ${s.pace.maxConcurrent ? `${int(s.pace.maxConcurrent)} channels` : 'no channel cap'}`],
    ['calling window', w ? `${w.text} · ${[c.window.hours, c.window.days].filter(Boolean).join(', ') || 'any time'} · ${c.window.zone}` : '–'],
    ['dial queue', q ? `${int(q.waiting + q.prioritized)} waiting, ${int(q.active)} active, ${int(q.delayed)} delayed` : '–'],
    ['answer rate', s.answerRate === null ? '–' : `${(100 * s.answerRate).toFixed(1)}%${s.avgTalkSeconds !== null ? `, ${s.avgTalkSeconds} s talk on average` : ''}`],
    keys.length ? ['keypresses', keys.map(([k, v]) => `${k === 'none' ? 'no key' : `key ${k}`}: ${int(v)}`).join(', ')] : null,
    ['callbacks', `${int(cb.correlated ?? 0)} results, ${int(cb.duplicate ?? 0)} duplicate, ${int(cb.late ?? 0)} late, ${int(cb.orphan ?? 0)} orphan`],
    n && n.delivered + n.retrying + n.failed > 0 ? ['webhook', `${int(n.delivered)} delivered, ${int(n.retrying)} retrying, ${int(n.failed)} failed`] : null,
    ['started', at(s.startedAt ?? s.createdAt)],
    s.finishedAt ? ['finished', at(s.finishedAt)] : ['ends', s.eta ? `~${at(s.eta)}` : '–'],
    s.schedule ? ['schedule', `${s.schedule.name}, run of ${at(s.schedule.tick)}${schedule && schedule.next ? `; next run ${schedule.next.local} (${relative(Date.parse(schedule.next.utc))})` : ''}`] : null,
  ].filter(Boolean);
}

/** Draws the campaign `c` (an entry of /dashboard/data) into the detail section. */
export function renderDetail(el, c, ctx) {
  const s = c.status;
  el.dataset.campaign = s.id;
  el.querySelector('#detail-name').textContent = s.name;
  el.querySelector('#detail-sub').textContent = `${s.id} · ${s.provider} ${s.action} · created ${wallTime(Date.parse(s.createdAt))}`;
  // Webhook notifications given up can be sent again (same delivery ids and bodies), whatever the campaign's state.
  const failed = s.notifications ? s.notifications.failed : 0;
  patch(el.querySelector('#detail-actions'), `${s.state}:${ctx.busy.has(s.id)}:${failed}`, () => [
    ...actionButtons(s.id, s.state, ctx.busy.has(s.id)),
    ...(failed > 0
      ? [h('button', { type: 'button', class: 'btn btn-resend', 'data-action': 'notifications/resend', 'data-id': s.id, disabled: ctx.busy.has(s.id) }, `resend ${int(failed)} given-up webhook${failed === 1 ? '' : 's'}`)]
      : []),
  ]);
  const schedule = s.schedule ? ctx.schedules.get(s.schedule.name) : null;
  const list = facts(c, schedule);
  patch(el.querySelector('#detail-facts'), JSON.stringify(list), () => list.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))));
  const counts = STATUSES.map((k) => [k, s.counts[k] ?? 0]).filter(([, v]) => v > 0);
  patch(el.querySelector('#detail-counts'), JSON.stringify(counts), () =>
    counts.length ? counts.map(([k, v]) => h('span', { class: 'chip' }, h('span', { class: `dot k-${k}` }), `${label(k)} `, h('b', {}, int(v)))) : h('span', { class: 'sub' }, 'no contacts'),
  );
}
