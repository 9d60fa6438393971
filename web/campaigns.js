// The campaigns table: one row per campaign, updated in place cell by cell.

import { h, int, label, patch, percent, rate, relative, STATUSES, wallTime } from './dom.js';

export const ended = (state) => state === 'completed' || state === 'cancelled';

/** The operator's actions a campaign in this state allows. */
export function actionsFor(state) {
  if (state === 'running' || state === 'importing') return ['pause', 'cancel'];
  if (state === 'paused') return ['resume', 'cancel'];
  return [];
}

export function actionButtons(id, state, busy) {
  return actionsFor(state).map((a) =>
    h('button', { type: 'button', class: `btn btn-${a}`, 'data-action': a, 'data-id': id, disabled: busy }, a),
  );
}

/** A thin bar of `parts` ([{ status, n }]) out of `total`, as SVG (no inline style). */
export function stackBar(parts, total, { width = 160, height = 8 } = {}) {
  const svg = h('svg:svg', { class: 'stack', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  svg.append(h('svg:rect', { class: 'track', x: 0, y: 0, width, height, rx: height / 2 }));
  const clip = `clip-${Math.random().toString(36).slice(2)}`;
  svg.append(h('svg:clipPath', { id: clip }, h('svg:rect', { x: 0, y: 0, width, height, rx: height / 2 })));
  const g = h('svg:g', { 'clip-path': `url(#${clip})` });
  let x = 0;
  for (const { status, n } of parts) {
    if (n <= 0 || total <= 0) continue;
    const w = (n / total) * width;
    g.append(h('svg:rect', { class: `k-${status}`, x: x.toFixed(2), y: 0, width: Math.max(w, 1).toFixed(2), height }, h('svg:title', {}, `${label(status)}: ${int(n)}`)));
    x += w;
  }
  svg.append(g);
  return svg;
}

function nameCell(s, schedules) {
  const sched = s.schedule ? schedules.get(s.schedule.name) : null;
  return [
    h('a', { href: `#campaign=${s.id}`, class: 'name' }, s.name),
    h('div', { class: 'sub' }, `${s.id} · ${s.provider} ${s.action}`),
    s.schedule ? h('div', { class: 'sub sched' }, `⟳ ${s.schedule.name}`, sched && sched.next ? ` · next ${relative(Date.parse(sched.next.utc))}` : '') : null,
  ];
}

function progressCell(s) {
  const p = percent(s.final, s.total);
  return [
    stackBar([{ status: 'done', n: s.final }], s.total),
    h('div', { class: 'sub' }, h('b', {}, int(s.final)), ` / ${int(s.total)} · ${p}%`),
    s.eta && !ended(s.state) ? h('div', { class: 'sub' }, `ends ~${relative(Date.parse(s.eta))}`) : null,
  ];
}

function outcomesCell(s) {
  const parts = STATUSES.filter((k) => k !== 'pending').map((status) => ({ status, n: s.counts[status] ?? 0 }));
  const shown = parts.filter((p) => p.n > 0).sort((a, b) => b.n - a.n).slice(0, 3);
  return [
    stackBar(parts, s.total),
    h('div', { class: 'sub' }, shown.length ? shown.map((p, i) => [i ? ' · ' : '', h('span', { class: `dot k-${p.status}` }), `${label(p.status)} ${int(p.n)}`]) : 'no results yet'),
    s.answerRate !== null ? h('div', { class: 'sub' }, `answer rate ${(100 * s.answerRate).toFixed(1)}%`) : null,
  ];
}

function paceCell(s) {
  if (ended(s.state)) return h('span', { class: `held held-${s.heldBy.kind}` }, s.heldBy.text);
  const now = s.rateNow === null ? '–' : `${rate(s.rateNow)}/s`;
  const target = s.targetRate === null ? 'no limit' : `${rate(s.targetRate)}/s`;
  return [h('div', { class: 'rate' }, h('b', {}, now), h('span', { class: 'sub' }, ` of ${target}`)), h('div', { class: `held held-${s.heldBy.kind}` }, s.heldBy.text)];
}

function channelsCell(s) {
  const ch = s.channels;
  if (ch.cap === null) return [h('b', {}, int(ch.inUse)), h('div', { class: 'sub' }, 'no cap')];
  const parts = [{ status: 'inuse', n: ch.inUse }];
  return [h('div', {}, h('b', {}, int(ch.inUse)), ` / ${int(ch.cap)}`), stackBar(parts, ch.cap, { width: 80, height: 6 }), h('div', { class: 'sub' }, ch.capSource === 'account' ? `account ${s.provider}` : 'campaign')];
}

export function windowText(w) {
  if (!w) return null;
  if (w.open) return { open: true, text: w.closesAt ? `open until ${wallTime(Date.parse(w.closesAt), w.zone)}` : 'open' };
  return { open: false, text: w.opensAt ? `opens ${wallTime(Date.parse(w.opensAt), w.zone)} (${relative(Date.parse(w.opensAt))})` : 'closed for good' };
}

function windowCell(c) {
  const w = windowText(c.window);
  if (!w) return h('span', { class: 'sub' }, '–');
  const spec = [c.window.hours, c.window.days].filter(Boolean).join(', ') || 'any time';
  return [h('div', { class: w.open ? 'win-open' : 'win-closed' }, w.text), h('div', { class: 'sub' }, `${spec} · ${c.window.zone}`)];
}

const CELLS = [
  (c, ctx) => [JSON.stringify([c.status.name, c.status.schedule, ctx.scheduleKey(c.status)]), () => nameCell(c.status, ctx.schedules)],
  (c) => [c.status.state + (c.status.pausedReason ?? ''), () => [h('span', { class: `state state-${c.status.state}` }, c.status.state), c.status.pausedReason ? h('div', { class: 'sub' }, c.status.pausedReason) : null]],
  (c) => [JSON.stringify([c.status.final, c.status.total, c.status.eta && relative(Date.parse(c.status.eta))]), () => progressCell(c.status)],
  (c) => [JSON.stringify([c.status.counts, c.status.answerRate]), () => outcomesCell(c.status)],
  (c) => [JSON.stringify([c.status.state, c.status.rateNow, c.status.targetRate, c.status.heldBy]), () => paceCell(c.status)],
  (c) => [JSON.stringify(c.status.channels), () => channelsCell(c.status)],
  (c) => [JSON.stringify([c.window, windowText(c.window)]), () => windowCell(c)],
  (c, ctx) => [`${c.status.state}:${ctx.busy.has(c.status.id)}`, () => actionButtons(c.status.id, c.status.state, ctx.busy.has(c.status.id))],
];

/** Draws the rows: existing rows are updated, new ones added, gone ones removed, in the order given. */
export function renderCampaigns(tbody, campaigns, ctx) {
  if (campaigns.length === 0) {
    patch(tbody, 'empty', () => h('tr', { class: 'empty' }, h('td', { colspan: 8 }, 'no campaigns yet: create one with autodialer campaign create, or POST /campaigns')));
    return;
  }
  // The "loading" or "no campaigns" line goes.
  delete tbody.dataset.key;
  for (const tr of [...tbody.children]) if (!tr.dataset.campaign) tr.remove();
  const rows = new Map([...tbody.querySelectorAll('tr[data-campaign]')].map((tr) => [tr.dataset.campaign, tr]));
  const order = [];
  for (const c of campaigns) {
    const s = c.status;
    let tr = rows.get(s.id);
    if (!tr) tr = h('tr', { 'data-campaign': s.id }, CELLS.map((_, i) => h('td', { class: i === CELLS.length - 1 ? 'actions' : null })));
    rows.delete(s.id);
    tr.dataset.state = s.state;
    tr.dataset.final = String(s.final);
    tr.dataset.total = String(s.total);
    tr.classList.toggle('selected', ctx.selected === s.id);
    CELLS.forEach((cell, i) => {
      const [key, build] = cell(c, ctx);
      patch(tr.children[i], key, build);
    });
    order.push(tr);
  }
  for (const tr of rows.values()) tr.remove();
  order.forEach((tr, i) => {
    if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] ?? null);
  });
}
