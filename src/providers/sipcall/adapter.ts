/**
 * The sipcall adapter: PlayVoice, MakeCall and DoubleCall, each one form POST
 * to the one API URL, classified once into a DialOutcome.
 */
import type { Action } from '../../domain/types.js';
import type { SipcallConfig } from '../../config.js';
import { createProviderDispatcher, exchange, type AdapterOptions } from '../http.js';
import { encodeMultipart, encodeUrlencoded } from '../multipart.js';
import { validateDialParams, wireFields } from '../params.js';
import type { DialOutcome, DialRequest, ProviderAdapter } from '../types.js';
import { classifySipcallReply } from './response.js';

export const SIPCALL_ACTIONS = ['playvoice', 'makecall', 'doublecall'] as const satisfies readonly Action[];
export type SipcallAction = (typeof SIPCALL_ACTIONS)[number];

export const SIPCALL_SERVICES: Readonly<Record<SipcallAction, string>> = {
  playvoice: 'App.Sip_Call.PlayVoice',
  makecall: 'App.Sip_Call.MakeCall',
  doublecall: 'App.Sip_Call.DoubleCall',
};

function isSipcallAction(action: Action): action is SipcallAction {
  return (SIPCALL_ACTIONS as readonly Action[]).includes(action);
}

/** The form fields of one request, in the seed's order: service, token, then the operation's fields. */
export function sipcallFields(config: Pick<SipcallConfig, 'token'>, req: DialRequest & { action: SipcallAction }): [string, string][] {
  return [
    ['service', SIPCALL_SERVICES[req.action]],
    ['token', config.token],
    ...wireFields(req.action, req.params, req.number, req.attemptId),
  ];
}

export function createSipcallAdapter(config: SipcallConfig, opts: AdapterOptions = {}): ProviderAdapter {
  const owned = opts.dispatcher === undefined;
  const dispatcher =
    opts.dispatcher ?? createProviderDispatcher({ connectTimeoutMs: config.connectTimeoutMs, responseTimeoutMs: config.responseTimeoutMs });
  const now = opts.now ?? Date.now;
  let closing: Promise<void> | null = null;

  async function dial(req: DialRequest): Promise<DialOutcome> {
    const { action } = req;
    if (!isSipcallAction(action)) {
      return { kind: 'fatal', reason: `the sipcall provider cannot place action ${action}`, httpStatus: null, providerCode: null };
    }
    const problems = validateDialParams(action, req.params, { lenient: true });
    if (problems.length > 0) {
      return { kind: 'rejected', reason: `not sent: ${problems.join('; ')}`, httpStatus: null, providerCode: null, tooFast: false };
    }
    const fields = sipcallFields(config, { ...req, action });
    const encoded = config.bodyEncoding === 'urlencoded' ? encodeUrlencoded(fields) : encodeMultipart(fields);
    const result = await exchange(dispatcher, {
      url: config.apiUrl,
      method: 'POST',
      headers: { 'content-type': encoded.contentType, accept: 'application/json' },
      body: encoded.body,
    });
    return result.ok ? classifySipcallReply(result.reply, now()) : result.outcome;
  }

  return {
    family: 'sipcall',
    actions: SIPCALL_ACTIONS,
    dial,
    async close() {
      if (!owned || closing !== null) return closing ?? undefined;
      closing = dispatcher.close();
      return closing;
    },
  };
}
