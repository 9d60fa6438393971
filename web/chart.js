// A campaign's calls over time as SVG: per time bucket, the calls that
// ended stacked by outcome, and a line of the calls begun.

import { h, int, label } from './dom.js';

/** Outcomes in stacking order (bottom first). */
export const OUTCOMES = ['answered', 'no_answer', 'busy', 'failed', 'rejected', 'no_result', 'in_doubt', 'expired', 'cancelled', 'not_sent'];

function niceCeil(n) {
  if (n <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

function stepText(ms) {
  const s = ms / 1000;
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${s / 60} min`;
  if (s < 86_400) return `${s / 3600} h`;
  return `${s / 86_400} d`;
}

function timeLabel(ms, bucketMs, spanMs) {
  const o = spanMs > 86_400_000 ? { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' } : bucketMs < 60_000 ? { hour: '2-digit', minute: '2-digit', second: '2-digit' } : { hour: '2-digit', minute: '2-digit' };
  return new Intl.DateTimeFormat('en-GB', o).format(ms);
}

/** Draws `timeline` into `box` (its width), the legend into `legend`; returns the bucket width in words. */
export function drawChart(box, legend, timeline) {
  const W = Math.max(320, Math.floor(box.clientWidth || 640));
  const H = 220;
  const m = { l: 44, r: 12, t: 12, b: 26 };
  const iw = W - m.l - m.r;
  const ih = H - m.t - m.b;
  const buckets = timeline.buckets;
  const n = Math.max(1, buckets.length);
  const sums = buckets.map((b) => OUTCOMES.reduce((a, k) => a + (b.counts[k] ?? 0), 0));
  const top = niceCeil(Math.max(1, ...sums, ...buckets.map((b) => b.counts.dialed ?? 0)));
  const y = (v) => m.t + ih - (v / top) * ih;
  const bw = iw / n;
  const svg = h('svg:svg', { class: 'timeline', width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'calls over time' });

  // Grid and y axis.
  for (const v of [0, top / 2, top]) {
    svg.append(h('svg:line', { class: 'grid', x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
    svg.append(h('svg:text', { class: 'axis', x: m.l - 6, y: y(v) + 4, 'text-anchor': 'end' }, int(v)));
  }

  // Bars: the calls that ended in each bucket, by outcome.
  const spanMs = n * timeline.bucketMs;
  buckets.forEach((b, i) => {
    const x = m.l + i * bw;
    const g = h('svg:g', { class: 'bucket' });
    let acc = 0;
    for (const k of OUTCOMES) {
      const v = b.counts[k] ?? 0;
      if (v <= 0) continue;
      g.append(h('svg:rect', { class: `k-${k}`, x: (x + bw * 0.12).toFixed(1), width: Math.max(1, bw * 0.76).toFixed(1), y: y(acc + v).toFixed(1), height: Math.max(0.5, y(acc) - y(acc + v)).toFixed(1) }));
      acc += v;
    }
    // The whole column answers the hover with its counts.
    const lines = [timeLabel(Date.parse(b.at), timeline.bucketMs, spanMs), `dialed ${int(b.counts.dialed ?? 0)}`, ...OUTCOMES.filter((k) => b.counts[k]).map((k) => `${label(k)} ${int(b.counts[k])}`)];
    g.append(h('svg:rect', { class: 'hover', x: x.toFixed(1), y: m.t, width: bw.toFixed(1), height: ih }, h('svg:title', {}, lines.join('\n'))));
    svg.append(g);
  });

  // The line of calls begun.
  const pts = buckets.map((b, i) => `${(m.l + (i + 0.5) * bw).toFixed(1)},${y(b.counts.dialed ?? 0).toFixed(1)}`);
  if (pts.length > 1) svg.append(h('svg:polyline', { class: 'dialed', points: pts.join(' ') }));
  else if (pts.length === 1) svg.append(h('svg:circle', { class: 'dialed-dot', cx: pts[0].split(',')[0], cy: pts[0].split(',')[1], r: 3 }));

  // Time axis: about six labels.
  const every = Math.max(1, Math.ceil(n / 6));
  for (let i = 0; i < n; i += every) {
    const at = Date.parse(buckets[i]?.at ?? timeline.from);
    svg.append(h('svg:text', { class: 'axis', x: (m.l + i * bw).toFixed(1), y: H - 8, 'text-anchor': i === 0 ? 'start' : 'middle' }, timeLabel(at, timeline.bucketMs, spanMs)));
  }
  svg.append(h('svg:line', { class: 'baseline', x1: m.l, x2: W - m.r, y1: y(0), y2: y(0) }));
  box.replaceChildren(svg);

  const t = timeline.totals;
  legend.replaceChildren(
    h('li', {}, h('span', { class: 'swatch line' }), `dialed ${int(t.dialed ?? 0)}`),
    ...OUTCOMES.filter((k) => t[k]).map((k) => h('li', {}, h('span', { class: `swatch k-${k}` }), `${label(k)} ${int(t[k])}`)),
  );
  return `calls per ${stepText(timeline.bucketMs)}`;
}
