/**
 * Raw callbacks archived in a worker thread (callback-worker.ts), so that a
 * backlog of callbacks and one of contacts are read, encoded and written on
 * two cores instead of sharing one: each flow is CPU-bound in Node. The
 * archiver that holds the lease asks the thread for a pass and waits for
 * its tally, as it waits for the in-process one; it also hands the thread
 * ranges of a campaign's contacts, a share of each pass (contact-pages.ts),
 * so that neither thread idles while the other still has work. A thread
 * that dies fails the requests it had and is started again at the next
 * one; its work is at-least-once like the rest (a range or a pass written
 * again changes nothing).
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { RedisTarget } from '../infra/redis.js';
import type { CallbackArchiving, CallbackPass } from './callbacks.js';
import type { ContactRanges, Range, RangeCounts } from './contact-pages.js';

export interface CallbackThreadSpec {
  redis: RedisTarget;
  prefix: string;
  databaseUrl: string;
  logLevel: string;
}

export type ThreadRequest = { kind: 'pass'; id: number; now: number } | { kind: 'contacts'; id: number; cid: string; range: Range; pageSize: number } | { kind: 'close' };
export type ThreadReply =
  | { kind: 'ready' }
  | { kind: 'broken'; message: string }
  | { kind: 'pass'; id: number; pass: CallbackPass }
  | { kind: 'contacts'; id: number; counts: RangeCounts }
  | { kind: 'failed'; id: number; message: string };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** A message to the worker, checked (null: not one). */
export function parseThreadRequest(v: unknown): ThreadRequest | null {
  if (!isObject(v)) return null;
  if (v.kind === 'close') return { kind: 'close' };
  if (v.kind === 'pass' && isCount(v.id) && typeof v.now === 'number' && Number.isFinite(v.now)) return { kind: 'pass', id: v.id, now: v.now };
  if (v.kind === 'contacts' && isCount(v.id) && typeof v.cid === 'string' && v.cid !== '' && isObject(v.range) && isCount(v.range.at) && isCount(v.range.count) && isCount(v.pageSize) && v.pageSize > 0) {
    return { kind: 'contacts', id: v.id, cid: v.cid, range: { at: v.range.at, count: v.range.count }, pageSize: v.pageSize };
  }
  return null;
}

/** A message from the worker, checked (null: not one). */
export function parseThreadReply(v: unknown): ThreadReply | null {
  if (!isObject(v)) return null;
  switch (v.kind) {
    case 'ready':
      return { kind: 'ready' };
    case 'broken':
      return typeof v.message === 'string' ? { kind: 'broken', message: v.message } : null;
    case 'failed':
      return isCount(v.id) && typeof v.message === 'string' ? { kind: 'failed', id: v.id, message: v.message } : null;
    case 'pass': {
      const p = v.pass;
      if (!isCount(v.id) || !isObject(p) || !isCount(p.archived) || !isCount(p.removed) || !isCount(p.waiting)) return null;
      return { kind: 'pass', id: v.id, pass: { archived: p.archived, removed: p.removed, waiting: p.waiting } };
    }
    case 'contacts': {
      const c = v.counts;
      if (!isCount(v.id) || !isObject(c) || !isCount(c.contacts) || !isCount(c.attempts)) return null;
      return { kind: 'contacts', id: v.id, counts: { contacts: c.contacts, attempts: c.attempts } };
    }
    default:
      return null;
  }
}

/**
 * The worker next to this module: compiled (.js), or, when this module runs
 * from the sources, the .ts file loaded through tsx's loader, which a worker
 * thread does not inherit (registered first in a small bootstrap).
 */
function newWorker(spec: CallbackThreadSpec): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./callback-worker.js', import.meta.url), { workerData: spec });
  const entry = new URL('./callback-worker.ts', import.meta.url).href;
  // tsx's ESM API (its package exports the CommonJS file to require.resolve; the module sits beside it).
  const tsx = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('tsx/esm/api')), 'index.mjs')).href;
  const boot = `(async () => { (await import(${JSON.stringify(tsx)})).register(); await import(${JSON.stringify(entry)}); })().catch((err) => { throw err; });`;
  return new Worker(boot, { eval: true, workerData: spec });
}

export interface CallbackThread extends Required<CallbackArchiving>, ContactRanges {
  close(): Promise<void>;
}

export function startCallbackThread(spec: CallbackThreadSpec, log: Logger): CallbackThread {
  let worker: { w: Worker; ready: Promise<void> } | null = null;
  let nextId = 1;
  const waiting = new Map<number, { resolve(r: ThreadReply): void; reject(e: Error): void }>();

  function failAll(err: Error): void {
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
  }

  function started(): { w: Worker; ready: Promise<void> } {
    if (worker) return worker;
    const w = newWorker(spec);
    const ready = new Promise<void>((resolve, reject) => {
      w.on('message', (raw: unknown) => {
        const m = parseThreadReply(raw);
        if (m === null) return;
        if (m.kind === 'ready') return resolve();
        if (m.kind === 'broken') {
          reject(new Error(`the archiver's callback thread could not start: ${m.message}`));
          void w.terminate();
          return;
        }
        const p = waiting.get(m.id);
        waiting.delete(m.id);
        if (m.kind === 'failed') p?.reject(new Error(m.message));
        else p?.resolve(m);
      });
      w.on('error', (err) => {
        log.error({ err }, "the archiver's callback thread failed");
        reject(err);
      });
      w.on('exit', (code) => {
        if (worker?.w === w) worker = null;
        const err = new Error(`the archiver's callback thread stopped (exit code ${code})`);
        reject(err);
        failAll(err);
      });
    });
    ready.catch(() => undefined);
    worker = { w, ready };
    return worker;
  }

  /** Sends a request (its id given) and resolves with the thread's answer to it. */
  async function ask(request: (id: number) => ThreadRequest): Promise<ThreadReply> {
    const { w, ready } = started();
    await ready;
    const id = nextId++;
    return new Promise<ThreadReply>((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      w.postMessage(request(id));
    });
  }

  return {
    ready: () => started().ready,
    async pass(now) {
      const r = await ask((id) => ({ kind: 'pass', id, now }));
      if (r.kind !== 'pass') throw new Error(`the archiver's thread answered a pass with ${r.kind}`);
      return r.pass;
    },
    async archive(cid, range, pageSize) {
      const r = await ask((id) => ({ kind: 'contacts', id, cid, range, pageSize }));
      if (r.kind !== 'contacts') throw new Error(`the archiver's thread answered a range of contacts with ${r.kind}`);
      return r.counts;
    },
    async close() {
      const current = worker;
      worker = null;
      if (!current) return;
      const exited = new Promise<void>((resolve) => current.w.once('exit', () => resolve()));
      current.w.postMessage({ kind: 'close' } satisfies ThreadRequest);
      // Its connections closed, the thread ends by itself; one that does not within 5 s is stopped.
      const timer = setTimeout(() => void current.w.terminate(), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
