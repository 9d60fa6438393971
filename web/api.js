// The server's data routes, with the API token.
//
// The token comes in the page's fragment (/#token=…: a fragment is never sent
// to a server nor put in a Referer), or from the form the page shows when it
// has none. It is kept for this tab only (sessionStorage) and taken out of
// the address bar at once.

const KEY = 'autodialer.token';

/** Reads `#token=…` (and any other fragment parameters); returns what is left of the fragment. */
export function takeTokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (token) {
    sessionStorage.setItem(KEY, token);
    params.delete('token');
    const rest = params.toString();
    history.replaceState(null, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  }
}

export const token = () => sessionStorage.getItem(KEY);
export const setToken = (t) => sessionStorage.setItem(KEY, t.trim());
export const forgetToken = () => sessionStorage.removeItem(KEY);

/** An answer the page cannot use: `status` 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path) {
  const t = token();
  let res;
  try {
    res = await fetch(path, { method, headers: t ? { authorization: `Bearer ${t}` } : {}, cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'unreachable', 'the server cannot be reached: retrying');
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const e = body && body.error;
    // Errors are { error: { code, message } }; some routes answer { error: "message" }.
    const code = e && typeof e === 'object' ? e.code : res.status === 401 ? 'unauthorized' : 'error';
    const message = e && typeof e === 'object' ? e.message : typeof e === 'string' ? e : `HTTP ${res.status}`;
    throw new ApiError(res.status, code, message);
  }
  return body;
}

export const getJson = (path) => call('GET', path);

/** pause | resume | cancel. */
export const act = (id, action) => call('POST', `/campaigns/${encodeURIComponent(id)}/${action}`);
