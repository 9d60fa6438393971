/**
 * The PBX adapter: one JSON PUT to the originate API per call; correlation
 * by the returned originated_call_id.
 */
import type { PbxConfig } from '../../config.js';
import { createProviderDispatcher, exchange, type AdapterOptions } from '../http.js';
import { validateDialParams, wireFields } from '../params.js';
import type { DialOutcome, DialRequest, ProviderAdapter } from '../types.js';
import { classifyPbxReply } from './response.js';

export const PBX_ACTIONS = ['originate'] as const;
export const ORIGINATE_PATH = '/api/v4/call/originate/act';

export function originateUrl(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}${ORIGINATE_PATH}`;
}

export function basicAuth(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** The JSON body, every value a string, in the seed's order; `timeout` is left out when empty. */
export function originateBody(req: DialRequest): string {
  const fields = wireFields('originate', req.params, req.number, req.attemptId, new Set(['timeout']));
  return JSON.stringify(Object.fromEntries(fields));
}

export function createPbxAdapter(config: PbxConfig, opts: AdapterOptions = {}): ProviderAdapter {
  const owned = opts.dispatcher === undefined;
  const dispatcher =
    opts.dispatcher ?? createProviderDispatcher({ connectTimeoutMs: config.connectTimeoutMs, responseTimeoutMs: config.responseTimeoutMs });
  const now = opts.now ?? Date.now;
  let closing: Promise<void> | null = null;
  const url = originateUrl(config.baseUrl);
  const authorization = basicAuth(config.username, config.password);

  async function dial(req: DialRequest): Promise<DialOutcome> {
    if (req.action !== 'originate') {
      return { kind: 'fatal', reason: `the pbx provider cannot place action ${req.action}`, httpStatus: null, providerCode: null };
    }
    const problems = validateDialParams('originate', req.params, { lenient: true });
    if (problems.length > 0) {
      return { kind: 'rejected', reason: `not sent: ${problems.join('; ')}`, httpStatus: null, providerCode: null, tooFast: false };
    }
    const result = await exchange(dispatcher, {
      url,
      method: 'PUT',
      headers: {
        'X-APIKEY': config.apiKey,
        Authorization: authorization,
        'Content-Type': 'application/json',
        Accept: 'application/json',
      },
      body: Buffer.from(originateBody(req), 'utf8'),
    });
    return result.ok ? classifyPbxReply(result.reply, now()) : result.outcome;
  }

  return {
    family: 'pbx',
    actions: PBX_ACTIONS,
    dial,
    async close() {
      if (!owned || closing !== null) return closing ?? undefined;
      closing = dispatcher.close();
      return closing;
    },
  };
}
