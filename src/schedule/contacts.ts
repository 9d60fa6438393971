/**
 * The contact list of a run, opened at run time: a file (relative to its
 * definition) streamed as it is, or an http(s) URL fetched whole first, with
 * a timeout and a size limit, under the webhooks' rule on private addresses.
 * A list that cannot be had fails before any campaign exists.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import type { ByteSource } from '../ingest/source.js';
import { guardedLookup, literalAddressRefusal, type PrivateAddressPolicy } from '../notify/address-guard.js';
import type { ContactsSource } from './parse.js';

export interface ContactsOptions {
  /** The whole fetch of a URL: connection, headers and body. */
  timeoutMs: number;
  maxBytes: number;
  privateAddresses: PrivateAddressPolicy;
}

export const DEFAULT_CONTACTS_OPTIONS: ContactsOptions = { timeoutMs: 30_000, maxBytes: 64 * 1024 * 1024, privateAddresses: 'allow' };

export class ContactsError extends Error {
  readonly code = 'ERR_SCHEDULE_CONTACTS';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ContactsError';
  }
}

export interface OpenedContacts {
  source: ByteSource;
  fileName: string;
}

const mib = (n: number): string =>
  n < 1024 ? `${n} bytes` : n < 1024 * 1024 ? `${Math.round((n / 1024) * 10) / 10} KiB` : `${Math.round((n / 1024 / 1024) * 10) / 10} MiB`;

async function openFile(path: string, opts: ContactsOptions): Promise<OpenedContacts> {
  const s = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new ContactsError(`contacts file ${path} cannot be read (${err.code ?? err.message}): put the list there or correct contacts`, { cause: err });
  });
  if (!s.isFile()) throw new ContactsError(`contacts ${path} is not a file`);
  if (s.size > opts.maxBytes) throw new ContactsError(`contacts file ${path} is ${mib(s.size)}, over the ${mib(opts.maxBytes)} limit`);
  return { source: createReadStream(path), fileName: basename(path) };
}

async function fetchUrl(url: string, opts: ContactsOptions): Promise<OpenedContacts> {
  const target = new URL(url);
  if (opts.privateAddresses === 'deny') {
    const refused = literalAddressRefusal(target);
    if (refused) throw new ContactsError(`contacts URL ${url}: ${refused.message.replace(/^webhook /, '')}`);
  }
  const agent = new Agent({
    connect: { timeout: opts.timeoutMs, ...(opts.privateAddresses === 'deny' ? { lookup: guardedLookup } : {}) },
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
  });
  const signal = AbortSignal.timeout(opts.timeoutMs);
  try {
    // Redirects are not followed: the URL written is the one fetched (and checked).
    const res = await request(target, { dispatcher: agent, method: 'GET', signal });
    if (res.statusCode < 200 || res.statusCode >= 300) {
      await res.body.dump().catch(() => undefined);
      throw new ContactsError(`contacts URL ${url} answered HTTP ${res.statusCode}`);
    }
    const declared = Number(res.headers['content-length'] ?? NaN);
    if (declared > opts.maxBytes) {
      await res.body.dump().catch(() => undefined);
      throw new ContactsError(`contacts URL ${url} sends ${mib(declared)}, over the ${mib(opts.maxBytes)} limit`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
      size += buf.length;
      if (size > opts.maxBytes) {
        res.body.destroy();
        throw new ContactsError(`contacts URL ${url} sent more than the ${mib(opts.maxBytes)} limit`);
      }
      chunks.push(buf);
    }
    const name = decodeURIComponent(target.pathname.split('/').pop() ?? '') || 'contacts.csv';
    return { source: Readable.from([Buffer.concat(chunks)]), fileName: name };
  } catch (err) {
    if (err instanceof ContactsError) throw err;
    const code = (err as { code?: string }).code;
    const why = signal.aborted ? `no complete answer within ${opts.timeoutMs} ms` : `${code ? `${code}: ` : ''}${(err as Error).message}`;
    throw new ContactsError(`contacts URL ${url} cannot be fetched (${why})`, { cause: err });
  } finally {
    await agent.close().catch(() => undefined);
  }
}

/** Opens a run's contact list; throws a ContactsError saying why it cannot be had. */
export async function openContacts(src: ContactsSource, opts: ContactsOptions = DEFAULT_CONTACTS_OPTIONS): Promise<OpenedContacts> {
  return src.kind === 'file' ? openFile(src.path, opts) : fetchUrl(src.url, opts);
}
