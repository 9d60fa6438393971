/**
 * What the provider posts back for a placed call, and when: pure builders of
 * the callback bodies (sipcall status and CDR as in seed 003, Asterisk-style
 * CDR for the pbx) with the delivery faults (lost, out of order, duplicate)
 * already applied.
 */
import { DateTime } from 'luxon';
import type { ResolvedCall, Disposition } from './outcomes.js';
import type { OriginateFields } from './pbx.js';
import type { Rng } from './rng.js';
import { CDR_CALLMETHOD, STATUS_METHOD } from './sipcall.js';
import type { SipcallOperation } from './sipcall.js';

export const CALLBACK_KINDS = ['sipcall-status', 'sipcall-cdr', 'pbx-cdr'] as const;
export type CallbackKind = (typeof CALLBACK_KINDS)[number];

export const CALLBACK_PATHS: Record<CallbackKind, string> = {
  'sipcall-status': '/callbacks/sipcall/status',
  'sipcall-cdr': '/callbacks/sipcall/cdr',
  'pbx-cdr': '/callbacks/pbx/cdr',
};

export type CallbackBody = Record<string, string | number>;

export interface CallbackStep {
  /** Real milliseconds after the call was placed. */
  atMs: number;
  kind: CallbackKind;
  body: CallbackBody;
}

export interface PlanSettings {
  timezone: string;
  pbxTimezone: string;
  callbackDelayMs: number;
  timeScale: number;
  numbersAsStrings: 'never' | 'always' | 'random';
  companyCode: string;
  providerIp: string;
  callerIds: readonly string[];
  duplicateCdrRate: number;
  outOfOrderRate: number;
  lostCdrRate: number;
  wallClock: WallClock;
}

/** Q.850-style hangup causes. */
export const HANGUP_CAUSE: Record<Disposition, number> = {
  answered: 16,
  busy: 17,
  no_answer: 19,
  failed: 34,
  unallocated: 1,
};

export const PBX_DISPOSITION: Record<Disposition, string> = {
  answered: 'ANSWERED',
  no_answer: 'NO ANSWER',
  busy: 'BUSY',
  failed: 'FAILED',
  unallocated: 'FAILED',
};

export type WallClock = (ms: number, zone: string) => string;

const SLICE_MS = 15 * 60 * 1000;
const pad = (n: number): string => (n < 10 ? `0${n}` : String(n));

/**
 * A `YYYY-MM-DD HH:mm:ss` formatter for wall-clock time in a zone, caching
 * zone offsets by 15-minute slice (every zone's transitions fall on such a
 * boundary), so a busy run does not ask luxon for each timestamp.
 */
export function makeWallClock(): WallClock {
  const offsets = new Map<string, number>();
  return (ms, zone) => {
    const key = `${zone}|${Math.floor(ms / SLICE_MS)}`;
    let offset = offsets.get(key);
    if (offset === undefined) {
      offset = DateTime.fromMillis(ms, { zone }).offset;
      if (offsets.size >= 4096) offsets.clear();
      offsets.set(key, offset);
    }
    const d = new Date(ms + offset * 60_000);
    return (
      `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
    );
  };
}

function numeric(rng: Rng, mode: PlanSettings['numbersAsStrings']): (n: number) => string | number {
  if (mode === 'never') return (n) => n;
  if (mode === 'always') return (n) => String(n);
  return (n) => (rng.chance(0.5) ? String(n) : n);
}

interface Timeline {
  startAt: number;
  answerAt: number;
  hangupAt: number;
}

function timeline(call: ResolvedCall, s: PlanSettings): Timeline {
  const scale = 1000 * s.timeScale;
  const startAt = s.callbackDelayMs;
  const answerAt = startAt + Math.round(call.ringSec * scale);
  const hangupAt = answerAt + Math.round(call.billsec * scale);
  return { startAt, answerAt, hangupAt };
}

/** Applies the delivery faults to the CDR steps around the progress steps. */
function arrange(rng: Rng, s: PlanSettings, progress: CallbackStep[], cdr: CallbackStep | null): CallbackStep[] {
  const lost = rng.chance(s.lostCdrRate);
  const early = rng.chance(s.outOfOrderRate);
  const twice = rng.chance(s.duplicateCdrRate);
  if (cdr === null || lost) return progress;
  const first = early ? { ...cdr, atMs: progress[0]?.atMs ?? cdr.atMs } : cdr;
  const steps = early ? [first, ...progress] : [...progress, first];
  if (twice) steps.push({ ...cdr, body: { ...cdr.body } });
  return steps;
}

export interface SipcallCall {
  operation: SipcallOperation;
  fields: Readonly<Record<string, string>>;
  /** The number called (destnumber, or bnumber for DoubleCall). */
  callee: string;
  uuid: string;
  buuid: string;
  billId: number;
  /** Epoch ms when the call started (the request arrived). */
  startMs: number;
  call: ResolvedCall;
}

/** Status callbacks (ring, answer when answered, hangup) and the CDR. */
export function planSipcall(c: SipcallCall, s: PlanSettings, rng: Rng): CallbackStep[] {
  const num = numeric(rng, s.numbersAsStrings);
  const disnumber = c.fields.disnumber !== undefined && c.fields.disnumber !== '' ? c.fields.disnumber : rng.pick(s.callerIds);
  const extnumber = c.fields.extnumber ?? '';
  const direction = rng.chance(0.5) ? 10040 : 10041;
  const t = timeline(c.call, s);
  const answered = c.call.disposition === 'answered';
  const startSec = Math.floor(c.startMs / 1000);
  const answerMs = c.startMs + c.call.ringSec * 1000;
  const endMs = answerMs + c.call.billsec * 1000;

  const status = (state: 'ring' | 'answer' | 'hangup', atMs: number): CallbackStep => ({
    atMs,
    kind: 'sipcall-status',
    body: {
      buuid: c.buuid,
      callee: c.callee,
      caller: extnumber !== '' ? extnumber : disnumber,
      companycode: s.companyCode,
      direction: 'callout',
      disnumber,
      extnumber,
      isbleg: 'true',
      method: STATUS_METHOD[c.operation],
      starttime: String(startSec),
      status: state,
      uuid: c.uuid,
      ip: s.providerIp,
    },
  });
  const progress = [status('ring', t.startAt)];
  if (answered) progress.push(status('answer', t.answerAt));
  progress.push(status('hangup', t.hangupAt));

  const cdr: CallbackStep = {
    atMs: t.hangupAt,
    kind: 'sipcall-cdr',
    body: {
      answertime: answered ? s.wallClock(answerMs, s.timezone) : '',
      hangupcause: num(HANGUP_CAUSE[c.call.disposition]),
      duration: num(c.call.ringSec),
      id: num(c.billId),
      extnumber,
      uuid: c.uuid,
      downloadip: s.providerIp,
      customuuid: c.fields.customuuid ?? '',
      chengshudu: c.fields.chengshudu ?? '0',
      callmethod: num(CDR_CALLMETHOD[c.operation]),
      recordfilename: answered ? `${c.billId}.mp3` : '',
      companycode: num(Number(s.companyCode)),
      memberid: c.fields.memberid ?? '0',
      hangupdirection: num(direction),
      billsec: num(c.call.billsec),
      endtime: s.wallClock(endMs, s.timezone),
      starttime: s.wallClock(c.startMs, s.timezone),
      type: 'callout',
      disnumber,
      crmid: '0',
      userkey: c.call.key,
      destnumber: c.callee,
    },
  };
  return arrange(rng, s, progress, c.call.sendCdr ? cdr : null);
}

export interface PbxCall {
  fields: OriginateFields;
  originatedCallId: string;
  /** Asterisk uniqueid, e.g. 1703145054.787335. */
  uniqueid: string;
  startMs: number;
  call: ResolvedCall;
}

function channelSuffix(rng: Rng): string {
  return rng.int(0, 0xffffffff).toString(16).padStart(8, '0');
}

/** The pbx posts one CDR at the end of the call (none when the first party did not answer). */
export function planPbx(c: PbxCall, s: PlanSettings, rng: Rng): CallbackStep[] {
  const num = numeric(rng, s.numbersAsStrings);
  const f = c.fields;
  const t = timeline(c.call, s);
  const dialed = f.trunk_name !== '' ? `PJSIP/${f.callee}@${f.trunk_name}` : `PJSIP/${f.callee}`;
  const cdr: CallbackStep = {
    atMs: t.hangupAt,
    kind: 'pbx-cdr',
    body: {
      accountcode: '',
      src: f.caller,
      dst: f.callee,
      dcontext: f.context,
      clid: `"${f.caller_id}" <${f.caller_id}>`,
      channel: `PJSIP/${f.caller}-${channelSuffix(rng)}`,
      dstchannel: `PJSIP/${f.trunk_name !== '' ? f.trunk_name : f.callee}-${channelSuffix(rng)}`,
      lastapp: 'Dial',
      lastdata: `${dialed},${f.timeout}`,
      calldate: s.wallClock(c.startMs, s.pbxTimezone),
      duration: num(c.call.ringSec + c.call.billsec),
      billsec: num(c.call.billsec),
      disposition: PBX_DISPOSITION[c.call.disposition],
      amaflags: 'DOCUMENTATION',
      uniqueid: c.uniqueid,
      userfield: '',
      originated_call_id: c.originatedCallId,
    },
  };
  return arrange(rng, s, [], c.call.sendCdr ? cdr : null);
}
