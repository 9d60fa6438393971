/**
 * The providers layer: one adapter per configured family behind the
 * ProviderAdapter interface, the callback parsers and the params checks.
 */
import type { Config } from '../config.js';
import type { ProviderFamily } from '../domain/types.js';
import type { AdapterOptions } from './http.js';
import { createPbxAdapter } from './pbx/adapter.js';
import { createSipcallAdapter } from './sipcall/adapter.js';
import type { ProviderAdapter } from './types.js';

/** An adapter for each configured provider family (each with its own dispatcher unless one is given). */
export function createProviders(config: Config, opts: AdapterOptions = {}): Map<ProviderFamily, ProviderAdapter> {
  const out = new Map<ProviderFamily, ProviderAdapter>();
  const { sipcall, pbx } = config.providers;
  if (sipcall) out.set('sipcall', createSipcallAdapter(sipcall, opts));
  if (pbx) out.set('pbx', createPbxAdapter(pbx, opts));
  return out;
}

export * from './types.js';
export { classifyTransportError, createProviderDispatcher, parseRetryAfter, type AdapterOptions, type TransportOutcome } from './http.js';
export { encodeMultipart, encodeUrlencoded, type EncodedBody } from './multipart.js';
export { ACTION_FIELDS, dialerParams, optionalParams, requiredParams, validateDialParams, type ValidateOptions } from './params.js';
export { CALL_OUTCOMES, type CallOutcome } from './outcomes-common.js';
export { createSipcallAdapter, SIPCALL_ACTIONS, SIPCALL_SERVICES, type SipcallAction } from './sipcall/adapter.js';
export { parseSipcallCdr, parseSipcallStatus, type SipcallCdrOptions, type SipcallStatusOptions } from './sipcall/callbacks.js';
export {
  DEFAULT_SIPCALL_OUTCOMES,
  parseSipcallOutcomeTable,
  resolveSipcallOutcomes,
  sipcallOutcome,
  type ResolvedSipcallOutcomeTable,
  type SipcallOutcomeTable,
} from './sipcall/outcomes.js';
export { createPbxAdapter, PBX_ACTIONS } from './pbx/adapter.js';
export { parsePbxCdr, type PbxCdrOptions } from './pbx/callbacks.js';
export {
  DEFAULT_PBX_DISPOSITIONS,
  parsePbxDispositionTable,
  pbxOutcome,
  resolvePbxDispositions,
  type PbxDispositionTable,
  type ResolvedPbxDispositionTable,
} from './pbx/outcomes.js';
