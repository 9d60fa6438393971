/** The telephony provider simulator: both provider families on one port. */
export { startSimulator } from './simulator.js';
export type { Clock, Simulator, SimulatorDeps } from './simulator.js';
export { DEFAULT_TOKEN, parseScript, parseSimulatorOptions, SimulatorError } from './options.js';
export type { ResolvedSimulatorOptions, SimulatorOptions } from './options.js';
export type { CallbackEvent, SimulatorEvents } from './events.js';
export type { Family, LedgerAnswer, LedgerEntry, Operation } from './ledger.js';
export type { SimulatorStats } from './stats.js';
export { CALLBACK_PATHS, HANGUP_CAUSE, PBX_DISPOSITION } from './callbacks.js';
export type { CallbackBody, CallbackKind } from './callbacks.js';
export { PBX_PATH } from './pbx.js';
export { DEFAULT_MIX, MIX_KEYS, SCRIPT_ENTRY_HELP } from './outcomes.js';
export type { MixKey, OutcomeMix } from './outcomes.js';
