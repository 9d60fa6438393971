/**
 * A small live dashboard: campaigns, their contact counts, their pace (the
 * recent rate against the target, channels, what holds it) and their queues.
 * One HTML page that polls `/dashboard/data`.
 */
import type { FastifyInstance } from 'fastify';
import './route-config.js';
import type { CampaignStore } from '../store/campaigns.js';
import type { StatusReport } from '../reports/status.js';
import type { QueueRegistry } from '../infra/queues.js';

export interface DashboardOptions {
  campaigns: CampaignStore;
  status: StatusReport;
  queues: QueueRegistry;
}

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>autodialer</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px;margin:0 0 16px}
table{border-collapse:collapse;width:100%}
th,td{padding:6px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th{background:#f5f5f5;font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}
.bar{background:#eee;height:8px;width:140px;border-radius:4px;overflow:hidden}
.bar>i{display:block;height:100%;background:#2a7}
.state-paused{color:#b60}.state-cancelled{color:#999}.state-completed{color:#2a7}.state-running{color:#06c}
button{font-size:12px;margin-right:4px}
small{color:#666}
.held-not_held{color:#2a7}.held-paused,.held-backoff{color:#b60}
</style></head><body>
<h1>autodialer <small id="at"></small></h1>
<table><thead><tr><th>campaign</th><th>state</th><th>progress</th><th>contacts by status</th>
<th class="num">in flight</th><th>pace</th><th>queue (waiting / active / delayed)</th><th class="num">answer rate</th><th>callbacks</th><th></th></tr></thead>
<tbody id="rows"><tr><td colspan="10">loading…</td></tr></tbody></table>
<script>
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
// The API token is given in the page's fragment, /#token=… (never sent to a server), and sent as a Bearer header.
const token = new URLSearchParams(location.hash.slice(1)).get('token');
const auth = token ? { authorization: 'Bearer ' + token } : {};
async function act(id, what) { await fetch('/campaigns/' + id + '/' + what, { method: 'POST', headers: auth }); load(); }
// Notifications to the campaign's webhook, with a button that sends the given-up ones again.
function webhook(s) {
  const n = s.notifications;
  if (!n || n.delivered + n.retrying + n.failed === 0) return '';
  const resend = n.failed > 0 ? ' <button onclick="act(\\'' + s.id + '\\',\\'notifications/resend\\')">resend</button>' : '';
  return '<br><small>webhook: ' + n.delivered + ' delivered, ' + n.retrying + ' retrying, ' + n.failed + ' failed</small>' + resend;
}
// 20, 6.9, 0.5, 0.25: as the CLI writes rates.
const rate = (r) => Number.isInteger(r) ? String(r) : r < 1 ? String(Math.round(r * 100) / 100) : String(Math.round(r * 10) / 10);
// The recent rate against the target, channels against their cap, and what holds the campaign now.
function pace(s) {
  if (!s.heldBy) return '–';
  const ch = s.channels;
  const channels = ch.cap === null ? ch.inUse + ' channels (no cap)' : ch.inUse + '/' + ch.cap + ' channels' + (ch.capSource === 'account' ? ' (account ' + esc(s.provider) + ')' : '');
  return (s.rateNow === null ? '–' : rate(s.rateNow) + '/s') + (s.targetRate === null ? '' : ' of ' + rate(s.targetRate) + '/s')
    + '<br><small>' + channels + '</small><br><small class="held-' + esc(s.heldBy.kind) + '">' + esc(s.heldBy.text) + '</small>';
}
async function load() {
  const res = await fetch('/dashboard/data', { headers: auth });
  if (res.status === 401) { document.getElementById('rows').innerHTML = '<tr><td colspan="10">this server needs its API token: open /#token=… (the address it logged at its first start, or a token of AUTODIALER_API_TOKEN)</td></tr>'; return; }
  if (res.status >= 400) { const e = await res.json().catch(() => null); document.getElementById('rows').innerHTML = '<tr><td colspan="10">' + esc((e && e.error && e.error.message) || 'error ' + res.status) + '</td></tr>'; return; }
  const data = await res.json();
  document.getElementById('at').textContent = new Date().toLocaleTimeString();
  document.getElementById('rows').innerHTML = data.campaigns.map((c) => {
    const s = c.status, q = c.queue;
    const pct = s.total ? Math.round(100 * s.final / s.total) : 0;
    const counts = Object.entries(s.counts).filter(([, v]) => v > 0).map(([k, v]) => esc(k) + ' ' + v).join(', ');
    const cb = s.callbacks;
    const buttons = s.state === 'paused' ? '<button onclick="act(\\'' + s.id + '\\',\\'resume\\')">resume</button>'
      : (s.state === 'running' || s.state === 'importing') ? '<button onclick="act(\\'' + s.id + '\\',\\'pause\\')">pause</button>' : '';
    const cancel = (s.state === 'completed' || s.state === 'cancelled') ? '' : '<button onclick="if(confirm(\\'cancel?\\'))act(\\'' + s.id + '\\',\\'cancel\\')">cancel</button>';
    return '<tr><td><b>' + esc(s.name) + '</b><br><small>' + s.id + ' · ' + esc(s.provider) + ' ' + esc(s.action) + '</small></td>'
      + '<td class="state-' + s.state + '">' + s.state + (s.pausedReason ? '<br><small>' + esc(s.pausedReason) + '</small>' : '') + '</td>'
      + '<td><div class="bar"><i style="width:' + pct + '%"></i></div><small>' + s.final + ' / ' + s.total + '</small></td>'
      + '<td>' + counts + '</td><td class="num">' + s.inFlight + '</td><td>' + pace(s) + '</td>'
      + '<td>' + (q ? q.waiting + ' / ' + q.active + ' / ' + q.delayed : '–') + '<br><small>' + s.ready + ' ready, ' + s.scheduled + ' scheduled</small></td>'
      + '<td class="num">' + (s.answerRate === null ? '–' : (100 * s.answerRate).toFixed(1) + '%') + '</td>'
      + '<td><small>' + cb.correlated + ' results, ' + cb.duplicate + ' dup, ' + cb.late + ' late, ' + cb.orphan + ' orphan</small>' + webhook(s) + '</td>'
      + '<td>' + buttons + cancel + '</td></tr>';
  }).join('') || '<tr><td colspan="10">no campaigns yet</td></tr>';
}
load(); setInterval(load, 2000);
</script></body></html>`;

export async function dashboardRoutes(app: FastifyInstance, opts: DashboardOptions): Promise<void> {
  // The page holds no data (a browser opening it cannot send the token yet): public. Its data needs the token.
  app.get('/', { config: { access: 'public', redis: false } }, async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
  app.get('/dashboard/data', async () => {
    const ids = (await opts.campaigns.list()).slice(-50).reverse();
    const campaigns = [];
    for (const id of ids) {
      const status = await opts.status(id);
      if (!status) continue;
      const live = status.state !== 'completed' && status.state !== 'cancelled';
      const queue = live ? await opts.queues.get(id).getJobCounts('waiting', 'active', 'delayed', 'prioritized') : null;
      campaigns.push({ status, queue });
    }
    return { campaigns };
  });
}
