// The schedules table: each scheduled definition, when it runs, its next and last run.

import { h, patch, relative } from './dom.js';

function row(s) {
  const runs = s.cron ? `cron ${s.cron}` : s.every ? `every ${s.every}` : 'not scheduled';
  const last = s.lastRun;
  return h(
    'tr',
    { 'data-schedule': s.name },
    h('td', {}, h('b', {}, s.name), h('div', { class: 'sub' }, s.file)),
    h('td', {}, runs, h('div', { class: 'sub' }, `${s.timezone}${s.overlap ? ` · overlap ${s.overlap}` : ''}`), s.synced ? null : h('div', { class: 'warn' }, 'not synced: run autodialer schedule sync')),
    h('td', {}, s.next ? [s.next.local, h('div', { class: 'sub' }, relative(Date.parse(s.next.utc)))] : h('span', { class: 'sub' }, 'none')),
    h(
      'td',
      {},
      last
        ? [last.id ? h('a', { href: `#campaign=${last.id}` }, last.id) : 'no campaign', ' ', h('span', { class: `state state-${last.state}` }, last.state), h('div', { class: 'sub' }, `tick ${relative(Date.parse(last.tick))}`)]
        : h('span', { class: 'sub' }, 'never run'),
    ),
  );
}

export function renderSchedules(tbody, problemsList, data) {
  const key = JSON.stringify([data, Math.floor(Date.now() / 30_000)]);
  patch(tbody, key, () => (data.schedules.length ? data.schedules.map(row) : h('tr', { class: 'empty' }, h('td', { colspan: 4 }, 'no scheduled definitions'))));
  patch(problemsList, JSON.stringify(data.problems), () => data.problems.map((p) => h('li', { class: 'warn' }, typeof p === 'string' ? p : p.message)));
}
