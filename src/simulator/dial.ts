/**
 * The dial endpoints: reads and checks a sipcall or pbx request, enforces the
 * cps cap, chooses the outcome (script, else the seeded draw), places the
 * call and schedules its callbacks, records the ledger entry, and answers.
 */
import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { makeWallClock, planPbx, planSipcall } from './callbacks.js';
import type { CallbackStep, PlanSettings } from './callbacks.js';
import type { SimulatorEvents } from './events.js';
import { FormBodyError, parseFormBody } from './form.js';
import { BodyTooLargeError, readBody, sendJson } from './http-io.js';
import type { IdSource } from './ids.js';
import type { Family, Ledger, LedgerEntry, Operation } from './ledger.js';
import type { ResolvedSimulatorOptions } from './options.js';
import { drawCallResult, drawOutcome, formatOutcome, resolveCall } from './outcomes.js';
import type { ResolveContext, ResolvedCall } from './outcomes.js';
import { checkOriginate, pbxAccepted, pbxAuthorized, pbxRejected, PBX_SERVER_ERROR, PBX_TOO_FAST, PBX_TOO_MANY, PBX_UNAUTHORIZED } from './pbx.js';
import type { OriginateFields } from './pbx.js';
import { makeRng } from './rng.js';
import type { Rng } from './rng.js';
import type { CallRunner } from './runner.js';
import type { ScriptBook } from './script.js';
import { checkSipcall, sipcallAccepted, sipcallIllegal, sipcallRefused, SIPCALL_SERVER_ERROR, SIPCALL_TOO_FAST, SIPCALL_TOO_MANY } from './sipcall.js';
import type { SipcallOperation } from './sipcall.js';
import type { StatsCounters } from './stats.js';

export interface DialContext {
  opts: ResolvedSimulatorOptions;
  clock: { now(): number };
  events: EventEmitter<SimulatorEvents>;
  ledger: Ledger;
  stats: StatsCounters;
  scripts: ScriptBook;
  runner: CallRunner;
  ids: IdSource;
  /** Requests held without an answer (timeout outcome). */
  held: Set<ServerResponse>;
  /** Answers waiting for slowResponseMs. */
  timers: Set<NodeJS.Timeout>;
}

type Reply = { kind: 'json'; status: number; body: unknown; headers?: Record<string, string> } | { kind: 'reset' } | { kind: 'hold' };

type EntryBase = Omit<LedgerEntry, 'answer' | 'httpStatus' | 'reason' | 'delayMs'>;

interface Placed {
  steps: CallbackStep[];
  callUuid: string | null;
  originatedCallId: string | null;
}

interface Wire {
  accepted(placed: Placed, reqtime: number, rsptime: number): unknown;
  refused(reqtime: number, rsptime: number): unknown;
  tooFast: unknown;
  serverError: unknown;
  tooMany: unknown;
}

interface DialRequest {
  base: EntryBase;
  family: Family;
  number: string;
  resolve: ResolveContext;
  wire: Wire;
  place(rng: Rng, call: ResolvedCall): Placed;
}

const RETRY_AFTER = { 'retry-after': '1' };

const SIPCALL_WIRE: Omit<Wire, 'accepted'> = {
  refused: sipcallRefused,
  tooFast: SIPCALL_TOO_FAST,
  serverError: SIPCALL_SERVER_ERROR,
  tooMany: SIPCALL_TOO_MANY,
};

const PBX_WIRE: Wire = {
  accepted: (placed) => pbxAccepted(placed.originatedCallId ?? ''),
  refused: () => pbxRejected('originate failed: the channel is not available'),
  tooFast: PBX_TOO_FAST,
  serverError: PBX_SERVER_ERROR,
  tooMany: PBX_TOO_MANY,
};

export interface DialHandlers {
  sipcall(req: IncomingMessage, res: ServerResponse): Promise<void>;
  pbx(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

export function makeDialHandlers(ctx: DialContext): DialHandlers {
  const { opts, clock, stats, ledger, events, scripts, runner, ids } = ctx;
  const plan: PlanSettings = { ...opts, wallClock: makeWallClock() };

  function send(res: ServerResponse, reply: Reply, delayMs: number): void {
    if (reply.kind === 'reset') {
      const socket = res.socket;
      if (socket !== null && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
      else socket?.destroy();
      return;
    }
    if (reply.kind === 'hold') {
      ctx.held.add(res);
      res.on('close', () => ctx.held.delete(res));
      return;
    }
    if (delayMs <= 0) {
      sendJson(res, reply.status, reply.body, reply.headers);
      return;
    }
    const timer = setTimeout(() => {
      ctx.timers.delete(timer);
      sendJson(res, reply.status, reply.body, reply.headers);
    }, delayMs);
    ctx.timers.add(timer);
  }

  function conclude(res: ServerResponse, base: EntryBase, answer: LedgerEntry['answer'], reason: string | null, reply: Reply): void {
    const delayMs = reply.kind === 'json' ? opts.slowResponseMs : 0;
    const httpStatus = reply.kind === 'json' ? reply.status : null;
    const entry: LedgerEntry = { ...base, answer, httpStatus, reason, delayMs };
    stats.requests[base.operation ?? 'unknown']++;
    stats.answers[answer]++;
    ledger.add(entry);
    events.emit('request', entry);
    send(res, reply, delayMs);
  }

  function arrive(family: Family): EntryBase {
    const at = clock.now();
    stats.requestsTotal++;
    stats.arrivals.add(at);
    return {
      seq: ids.nextSeq(),
      at,
      family,
      operation: null,
      number: null,
      customuuid: null,
      originatedCallId: null,
      callUuid: null,
      placed: false,
      outcome: null,
      scripted: false,
      result: null,
    };
  }

  function dial(res: ServerResponse, d: DialRequest): void {
    const now = clock.now();
    const cap = opts.cpsCap;
    if (cap > 0 && stats.placed.count(now) >= cap) {
      stats.cpsViolations++;
      const reason = `more than ${cap} calls in one second`;
      conclude(res, d.base, '429', reason, { kind: 'json', status: 429, body: d.wire.tooMany, headers: RETRY_AFTER });
      return;
    }
    const n = scripts.attempt(`${d.family}|${d.number}`);
    const rng = makeRng(`${opts.seed}|${d.family}|${d.number}|${n}`);
    const scripted = scripts.take(d.number);
    const outcome = scripted ?? drawOutcome(rng, opts.mix, d.family, opts);
    const base: EntryBase = { ...d.base, scripted: scripted !== null, outcome: formatOutcome(outcome) };
    const unix = Math.floor(now / 1000);
    switch (outcome.type) {
      case 'reject':
        conclude(res, base, 'rejected', 'refused: the line is not available', { kind: 'json', status: 200, body: d.wire.refused(unix, unix) });
        return;
      case 'toofast':
        conclude(res, base, 'rejected', 'refused: too fast', { kind: 'json', status: 200, body: d.wire.tooFast });
        return;
      case 'error500':
        conclude(res, base, 'error', 'internal server error', { kind: 'json', status: 500, body: d.wire.serverError });
        return;
      case 'error429':
        conclude(res, base, '429', 'too many requests', { kind: 'json', status: 429, body: d.wire.tooMany, headers: RETRY_AFTER });
        return;
      default:
        break;
    }
    const callOutcome = outcome.type === 'call' ? outcome : drawCallResult(rng, opts.mix, d.family);
    const call = resolveCall(rng, callOutcome, d.resolve);
    const placed = d.place(rng, call);
    stats.callsPlaced++;
    stats.placed.add(now);
    runner.start(placed.steps, {
      family: d.family,
      number: d.number,
      customuuid: base.customuuid,
      callId: placed.callUuid ?? placed.originatedCallId ?? '',
    });
    const cdrs = placed.steps.filter((s) => s.kind !== 'sipcall-status').length;
    const entry: EntryBase = {
      ...base,
      placed: true,
      callUuid: placed.callUuid,
      originatedCallId: placed.originatedCallId,
      result: { disposition: call.disposition, billsec: call.billsec, key: call.key, cdrs },
    };
    if (outcome.type === 'reset') conclude(res, entry, 'reset', 'connection reset after the request was read', { kind: 'reset' });
    else if (outcome.type === 'timeout') conclude(res, entry, 'timeout', 'never answered', { kind: 'hold' });
    else conclude(res, entry, 'accepted', null, { kind: 'json', status: 200, body: d.wire.accepted(placed, unix, unix) });
  }

  async function readOrRefuse(req: IncomingMessage, res: ServerResponse, base: EntryBase, tooLarge: unknown): Promise<Buffer | null> {
    try {
      return await readBody(req, opts.maxBodyBytes);
    } catch (err) {
      if (!(err instanceof BodyTooLargeError)) throw err;
      conclude(res, base, 'rejected', err.message, { kind: 'json', status: 413, body: tooLarge, headers: { connection: 'close' } });
      return null;
    }
  }

  return {
    async sipcall(req, res) {
      const base = arrive('sipcall');
      const body = await readOrRefuse(req, res, base, sipcallIllegal('request body is too large'));
      if (body === null) return;
      let fields: Record<string, string>;
      try {
        fields = parseFormBody(req.headers['content-type'], body);
      } catch (err) {
        if (!(err instanceof FormBodyError)) throw err;
        conclude(res, base, 'rejected', err.message, { kind: 'json', status: 200, body: sipcallIllegal(err.message) });
        return;
      }
      const check = checkSipcall(fields, opts.token);
      const customuuid = fields.customuuid !== undefined && fields.customuuid !== '' ? fields.customuuid : null;
      if (!check.ok) {
        const withOp: EntryBase = { ...base, operation: check.operation, customuuid };
        conclude(res, withOp, 'rejected', check.body.msg, { kind: 'json', status: 200, body: check.body });
        return;
      }
      const operation: SipcallOperation = check.operation;
      const number = check.number;
      dial(res, {
        base: { ...base, operation, number, customuuid },
        family: 'sipcall',
        number,
        resolve: { family: 'sipcall', keyMenu: operation === 'PlayVoice', userid: check.fields.userid ?? '', answerTimeoutSec: 30 },
        wire: { ...SIPCALL_WIRE, accepted: (_p, reqtime, rsptime) => sipcallAccepted(operation, reqtime, rsptime) },
        place: (rng, call) => {
          const uuid = randomUUID();
          const steps = planSipcall(
            { operation, fields: check.fields, callee: number, uuid, buuid: randomUUID(), billId: ids.nextBill(), startMs: base.at, call },
            plan,
            rng,
          );
          return { steps, callUuid: uuid, originatedCallId: null };
        },
      });
    },

    async pbx(req, res) {
      const base: EntryBase = { ...arrive('pbx'), operation: 'originate' satisfies Operation };
      const body = await readOrRefuse(req, res, base, pbxRejected('request body is too large'));
      if (body === null) return;
      const apiKey = req.headers['x-apikey'];
      if (!pbxAuthorized(Array.isArray(apiKey) ? apiKey[0] : apiKey, req.headers.authorization, opts)) {
        conclude(res, base, 'rejected', 'unauthorized', { kind: 'json', status: 401, body: PBX_UNAUTHORIZED });
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch (err) {
        const reason = `request body must be JSON: ${(err as Error).message}`;
        conclude(res, base, 'rejected', reason, { kind: 'json', status: 400, body: pbxRejected(reason) });
        return;
      }
      const check = checkOriginate(parsed, opts.pbxRequireTrunkForPstn);
      if (!check.ok) {
        const callee = typeof (parsed as { callee?: unknown } | null)?.callee === 'string' ? (parsed as { callee: string }).callee : null;
        conclude(res, { ...base, number: callee }, 'rejected', check.body.message, { kind: 'json', status: 200, body: check.body });
        return;
      }
      const fields: OriginateFields = check.fields;
      dial(res, {
        base: { ...base, number: fields.callee },
        family: 'pbx',
        number: fields.callee,
        resolve: { family: 'pbx', keyMenu: false, userid: '', answerTimeoutSec: fields.timeout },
        wire: PBX_WIRE,
        place: (rng, call) => {
          const suffix = ids.nextOrigSuffix();
          const unix = Math.floor(base.at / 1000);
          const originatedCallId = `orig.call.${unix}.${suffix}`;
          const steps = planPbx({ fields, originatedCallId, uniqueid: `${unix}.${suffix}`, startMs: base.at, call }, plan, rng);
          return { steps, callUuid: null, originatedCallId };
        },
      });
    },
  };
}
