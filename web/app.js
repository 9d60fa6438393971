// The campaign page: every campaign with its progress, outcomes and pace,
// the schedules, one campaign in detail with its calls over time; refreshed
// by polling the data routes with the API token.

import { act, ApiError, forgetToken, getJson, setToken, takeTokenFromFragment, token } from './api.js';
import { renderCampaigns } from './campaigns.js';
import { renderDetail } from './detail.js';
import { drawChart } from './chart.js';
import { renderSchedules } from './schedules.js';

const CAMPAIGNS_EVERY_MS = 2000;
const SCHEDULES_EVERY_MS = 10_000;
const TIMELINE_EVERY_MS = 5000;

const $ = (id) => document.getElementById(id);

const page = {
  campaigns: [],
  /** Schedules by name. */
  schedules: new Map(),
  /** Campaigns with an action under way (their buttons are disabled). */
  busy: new Set(),
  selected: null,
  timeline: null,
  /** Set while the server refuses the token: polling waits for a new one. */
  locked: false,
};

const ctx = () => ({
  busy: page.busy,
  selected: page.selected,
  schedules: page.schedules,
  scheduleKey: (s) => (s.schedule ? JSON.stringify(page.schedules.get(s.schedule.name)?.next ?? null) : ''),
});

function selectedFromHash() {
  return new URLSearchParams(location.hash.slice(1)).get('campaign');
}

// Messages: a notice for what stops the page, a flash for what an action did.
function showNotice(text, askToken = false) {
  $('notice').hidden = false;
  $('notice-text').textContent = text;
  $('token-form').hidden = !askToken;
  $('live').className = 'live stale';
  $('live').textContent = askToken ? 'no token' : 'retrying';
  // Tables that have not been drawn yet say what they wait for.
  for (const td of document.querySelectorAll('tr.empty td')) if (td.textContent === 'loading…' || askToken) td.textContent = askToken ? 'waiting for the API token' : 'loading…';
}

function clearNotice() {
  $('notice').hidden = true;
  $('live').className = 'live ok';
  $('live').textContent = 'live';
}

let flashTimer = 0;
function flash(text, kind = 'ok') {
  const el = $('flash');
  el.textContent = text;
  el.className = `flash flash-${kind}`;
  el.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => (el.hidden = true), 6000);
}

function failed(err) {
  if (!(err instanceof ApiError)) throw err;
  if (err.status === 401) {
    page.locked = true;
    forgetToken();
    showNotice(
      token() === null
        ? 'This server needs its API token: open the address the server logged at its first start (/#token=…), or enter a token of AUTODIALER_API_TOKEN.'
        : 'The server refused this token: enter another.',
      true,
    );
  } else showNotice(`${err.message}${err.status === 503 ? ' (the page keeps trying)' : ''}`);
}

function renderAll() {
  renderCampaigns($('campaign-rows'), page.campaigns, ctx());
  $('campaign-count').textContent = page.campaigns.length ? String(page.campaigns.length) : '';
  const detail = $('detail');
  const c = page.selected ? page.campaigns.find((x) => x.status.id === page.selected) : null;
  detail.hidden = !c;
  if (c) renderDetail(detail, c, ctx());
}

async function loadCampaigns() {
  const data = await getJson('/dashboard/data');
  page.campaigns = data.campaigns;
  clearNotice();
  $('updated').textContent = `updated ${new Date().toLocaleTimeString('en-GB')}`;
  renderAll();
}

async function loadSchedules() {
  const data = await getJson('/schedules');
  page.schedules = new Map(data.schedules.map((s) => [s.name, s]));
  $('schedule-count').textContent = data.schedules.length ? String(data.schedules.length) : '';
  renderSchedules($('schedule-rows'), $('schedule-problems'), data);
}

function drawTimeline() {
  if (!page.timeline || page.timeline.id !== page.selected) return;
  $('chart-step').textContent = drawChart($('chart'), $('chart-legend'), page.timeline);
}

async function loadTimeline() {
  const id = page.selected;
  if (!id || $('detail').hidden) return;
  // A campaign that has ended has no new calls once read after its end.
  const c = page.campaigns.find((x) => x.status.id === id);
  const t = page.timeline;
  if (c && c.status.finishedAt && t && t.id === id && Date.parse(t.computedAt) > Date.parse(c.status.finishedAt) + 5000) return;
  const fresh = await getJson(`/dashboard/campaigns/${encodeURIComponent(id)}/timeline`);
  if (page.selected !== id) return;
  page.timeline = fresh;
  drawTimeline();
}

/**
 * Runs `load` now and every `ms` after it ends, while the page is visible and
 * has a token the server takes. The function returned runs it again now (once
 * more after the run under way, if one is).
 */
function every(ms, load) {
  let timer = 0;
  let running = null;
  let again = false;
  const run = () => {
    if (running) {
      again = true;
      return running;
    }
    clearTimeout(timer);
    running = (async () => {
      if (document.hidden || page.locked) return;
      try {
        await load();
      } catch (err) {
        if (err instanceof ApiError) failed(err);
        else {
          console.error(err);
          showNotice(`The page failed: ${err && err.message}`);
        }
      }
    })().finally(() => {
      running = null;
      if (again) {
        again = false;
        void run();
      } else timer = setTimeout(run, ms);
    });
    return running;
  };
  void run();
  return run;
}

async function onAction(button) {
  const { id, action } = button.dataset;
  const c = page.campaigns.find((x) => x.status.id === id);
  const name = c ? c.status.name : id;
  if (action === 'cancel' && !confirm(`Cancel campaign “${name}”? Contacts not called yet will not be called.`)) return;
  page.busy.add(id);
  renderAll();
  try {
    const r = await act(id, action);
    if (action === 'notifications/resend') flash(`${name}: ${r.resent ?? 0} webhook notification(s) sent again`);
    else flash(`${name}: ${action} done, now ${r.state ?? 'changed'}`);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 401) failed(err);
    else flash(`${name}: ${action} refused: ${err.message}`, 'error');
  } finally {
    page.busy.delete(id);
  }
  await refresh.campaigns();
}

function select() {
  page.selected = selectedFromHash();
  if (page.timeline && page.timeline.id !== page.selected) {
    $('chart').replaceChildren();
    $('chart-legend').replaceChildren();
  }
  renderAll();
  if (page.selected) {
    $('detail').scrollIntoView({ block: 'nearest' });
    void refresh.timeline();
  }
}

takeTokenFromFragment();
page.selected = selectedFromHash();
if (token() === null) failed(new ApiError(401, 'unauthorized', ''));

document.addEventListener('click', (e) => {
  const button = e.target instanceof Element ? e.target.closest('button[data-action]') : null;
  if (button && !button.disabled) void onAction(button);
});
$('detail-close').addEventListener('click', (e) => {
  e.preventDefault();
  history.replaceState(null, '', location.pathname + location.search);
  select();
});
window.addEventListener('hashchange', select);
$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const value = $('token-input').value.trim();
  if (!value) return;
  setToken(value);
  $('token-input').value = '';
  page.locked = false;
  clearNotice();
  void refresh.campaigns();
  void refresh.schedules();
  void refresh.timeline();
});
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) void refresh.campaigns();
});
let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(drawTimeline, 150);
});

const refresh = {
  campaigns: every(CAMPAIGNS_EVERY_MS, async () => {
    await loadCampaigns();
    // A campaign opened from the address bar: its timeline once its row is known.
    if (page.selected && (!page.timeline || page.timeline.id !== page.selected)) void refresh.timeline();
  }),
  schedules: every(SCHEDULES_EVERY_MS, loadSchedules),
  timeline: every(TIMELINE_EVERY_MS, loadTimeline),
};
