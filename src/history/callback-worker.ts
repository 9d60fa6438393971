/**
 * The worker thread that archives raw callbacks (callback-thread.ts starts
 * it): its own Redis connection, PostgreSQL pool and logger, and the same
 * callback archiver a process runs in its main thread. It runs a pass when
 * asked and answers with its tally, and archives the ranges of contacts it
 * is handed; the lease stays with the archiver that asked.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { connectRedis, quietErrors } from '../infra/redis.js';
import { createLogger } from '../infra/logger.js';
import { keys as makeKeys } from '../store/keys.js';
import { makeCallbackLog } from '../store/callback-log.js';
import { openHistoryDatabase } from './pg.js';
import { makePgHistoryStore } from './store.js';
import { historyKeys } from './keys.js';
import { CALLBACKS_PER_WRITE, makeCallbackArchiver } from './callbacks.js';
import { makeContactSource } from './contact-source.js';
import { archiveRange } from './contact-pages.js';
import { parseThreadRequest, type CallbackThreadSpec, type ThreadReply } from './callback-thread.js';

const port = parentPort;
if (!port) throw new Error('callback-worker.ts runs as a worker thread (history/callback-thread.ts starts it)');
const spec = workerData as CallbackThreadSpec;
const log = createLogger({ level: spec.logLevel, name: 'archiver-callbacks' });
const send = (reply: ThreadReply) => port.postMessage(reply);

try {
  const redis = await connectRedis(spec.redis, { enableAutoPipelining: true });
  quietErrors(redis, { log, name: 'archiver callbacks' });
  // A connection for the callbacks' writes, and two for the two ranges of contacts the archiver keeps in flight here.
  const db = openHistoryDatabase(spec.databaseUrl, log, { max: 3 });
  const keys = makeKeys(spec.prefix);
  const hk = historyKeys(keys, spec.prefix);
  const store = makePgHistoryStore(db);
  const callbacks = makeCallbackArchiver({ redis, keys, hk, callbackLog: makeCallbackLog({ redis, keys }), store, log, pageSize: CALLBACKS_PER_WRITE });
  const source = makeContactSource({ redis, keys, hk, log });
  port.on('message', (raw: unknown) => {
    const req = parseThreadRequest(raw);
    if (req === null) return;
    if (req.kind === 'close') {
      void Promise.allSettled([redis.quit(), db.close()]).then(() => port.close());
      return;
    }
    const failed = (err: unknown) => send({ kind: 'failed', id: req.id, message: err instanceof Error ? err.message : String(err) });
    if (req.kind === 'pass') callbacks.pass(req.now).then((pass) => send({ kind: 'pass', id: req.id, pass }), failed);
    else archiveRange({ source, store, pageSize: req.pageSize }, req.cid, req.range).then((counts) => send({ kind: 'contacts', id: req.id, counts }), failed);
  });
  send({ kind: 'ready' });
} catch (err) {
  send({ kind: 'broken', message: err instanceof Error ? err.message : String(err) });
}
