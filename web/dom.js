// Small helpers: elements built from data (text only, never HTML), and the
// ways the page writes numbers, rates and times.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * An element: `h('td', { class: 'num' }, 'text', child)`; `svg:rect` for SVG.
 * Attributes are set as attributes (no inline style: the page's policy
 * forbids it), `on<event>` as listeners; children are nodes or text.
 */
export function h(tag, attrs = {}, ...children) {
  const el = tag.startsWith('svg:') ? document.createElementNS(SVG_NS, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false || c === '') continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Replaces a container's children only when `key` changed since the last time (keeps focus, hover and clicks in place). */
export function patch(el, key, build) {
  if (el.dataset.key === key) return;
  el.dataset.key = key;
  el.replaceChildren(...[build()].flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

const INT = new Intl.NumberFormat('en');
export const int = (n) => INT.format(n);

/** 20, 6.9, 0.5, 0.25: as the command line writes rates. */
export function rate(r) {
  if (Number.isInteger(r)) return String(r);
  return r < 1 ? String(Math.round(r * 100) / 100) : String(Math.round(r * 10) / 10);
}

export const percent = (part, whole) => (whole > 0 ? Math.floor((1000 * part) / whole) / 10 : 0);

/** `in 3 h 20 min`, `5 min ago`, `now`. */
export function relative(ms, now = Date.now()) {
  const d = Math.round((ms - now) / 1000);
  const a = Math.abs(d);
  if (a < 5) return 'now';
  let text;
  if (a < 60) text = `${a} s`;
  else if (a < 3600) text = `${Math.round(a / 60)} min`;
  else if (a < 86_400) {
    const min = Math.round(a / 60);
    text = `${Math.floor(min / 60)} h${min % 60 ? ` ${min % 60} min` : ''}`;
  } else {
    const hours = Math.round(a / 3600);
    text = `${Math.floor(hours / 24)} d${hours % 24 ? ` ${hours % 24} h` : ''}`;
  }
  return d > 0 ? `in ${text}` : `${text} ago`;
}

/** The wall time of an instant in `zone` (default: the browser's): `14:05` the same day, `Mon 09:00` within a week, else the date. */
export function wallTime(ms, zone, now = Date.now()) {
  try {
    const day = new Intl.DateTimeFormat('en-CA', { timeZone: zone || undefined, year: 'numeric', month: '2-digit', day: '2-digit' });
    const sameDay = day.format(ms) === day.format(now);
    const opts = sameDay ? { hour: '2-digit', minute: '2-digit' } : Math.abs(ms - now) < 6 * 86_400_000 ? { weekday: 'short', hour: '2-digit', minute: '2-digit' } : { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' };
    return new Intl.DateTimeFormat('en-GB', { ...opts, timeZone: zone || undefined }).format(ms);
  } catch {
    return new Date(ms).toISOString();
  }
}

/** Contact statuses in the order the page draws them (pending last: what is left). */
export const STATUSES = ['answered', 'no_answer', 'busy', 'failed', 'rejected', 'no_result', 'in_doubt', 'expired', 'cancelled', 'invalid', 'duplicate', 'dnc', 'pending'];

export const label = (s) => s.replace(/_/g, ' ');
