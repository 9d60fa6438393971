/**
 * Contact list uploads (multipart/form-data), and campaigns as JSON:
 *   POST /campaigns                 fields, then the CSV file part → a new campaign (201),
 *                                   or with dryRun=true the summary of what would be added (200);
 *                                   or a JSON definition whose contacts is a URL or the rows
 *                                   (campaign-json.ts), ?dryRun=true likewise
 *   POST /campaigns/:id/contacts    the CSV file part → added to the campaign (200);
 *                                   numbers already in it are not added twice
 * The file part is streamed into the import as it arrives, never held whole.
 * The campaign fields must come before the file part: they decide how the
 * file is read. Limits on the file, the fields and the parts answer 413;
 * a definition or fields that cannot be used 400, listing the problems; a
 * list that cannot be read at all 422 with the reason.
 */
import { once } from 'node:events';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import type { MultipartFile } from '@fastify/multipart';
import { z } from 'zod';
import { DefinitionError, type CampaignDefinition } from '../campaign/definition.js';
import type { DryRunSummary, ImportSummary } from '../campaign/import.js';
import { IngestError } from '../ingest/errors.js';
import type { ByteSource } from '../ingest/source.js';
import type { OpenedContacts } from '../schedule/contacts.js';
import { ContactsError, DEFAULT_CONTACTS_OPTIONS, openContacts } from '../schedule/contacts.js';
import { API_ERROR_CODES, ApiError, sendApiError, type ApiErrorCode } from './api-errors.js';
import { checkOnly, DEFAULT_JSON_BODY_BYTES, openJsonContacts, type CampaignJsonBody } from './campaign-json.js';
import { campaignJsonBody, createAnswer, createQuery, dryRunAnswer, idParams as idParamsSchema } from './api-schemas.js';
import { errorAnswers } from './api.js';
import { serializerCompiler } from 'fastify-type-provider-zod';
import { CampaignStoreError, type CampaignStore } from '../store/campaigns.js';
import { isCampaignId } from '../store/ids.js';
import { parseUploadFields, UploadFieldsError, UPLOAD_FIELD_NAMES, type FormField } from './upload-fields.js';
import './route-config.js';

export interface UploadLimits {
  /** Largest contact list file, in bytes. */
  fileBytes: number;
  /** Most campaign fields in one form. */
  fields: number;
  /** Largest field value (the JSON definition included), in bytes. */
  fieldBytes: number;
  /** Largest JSON body of POST /campaigns, in bytes. */
  jsonBytes: number;
}

/** 512 MiB: about ten million rows of 50 bytes (AUTODIALER_UPLOAD_MAX_MB); larger lists go in parts to POST /campaigns/:id/contacts. */
export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { fileBytes: 512 * 2 ** 20, fields: 100, fieldBytes: 64 * 1024, jsonBytes: DEFAULT_JSON_BODY_BYTES };

export interface UploadOptions {
  /** Parses a raw definition with the deployment's defaults (throws DefinitionError). */
  definition: (raw: unknown) => CampaignDefinition;
  createCampaign: (def: CampaignDefinition, source: ByteSource, fileName: string) => Promise<{ id: string; summary: ImportSummary }>;
  addContacts: (id: string, source: ByteSource, fileName: string) => Promise<ImportSummary>;
  /** Reads and checks a list, storing nothing; `existingCampaignId` counts numbers already in that campaign. */
  dryRun: (def: CampaignDefinition, source: ByteSource, fileName: string, existingCampaignId: string | null) => Promise<DryRunSummary>;
  campaigns: Pick<CampaignStore, 'get'>;
  /** Fetches a JSON definition's contacts URL (time, size and private-address limits; throws ContactsError). Default: the schedules' limits, private addresses refused. */
  openUrl?: (url: string) => Promise<OpenedContacts>;
  limits?: Partial<UploadLimits>;
}

const CODE_BY_STATUS: Record<number, ApiErrorCode> = {
  400: 'invalid_request',
  404: 'not_found',
  408: 'request_timeout',
  409: 'invalid_state',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unreadable_list',
  500: 'internal',
};

/** An answer other than success, with its status, its code and what to do. */
class UploadRefused extends Error {
  readonly code: ApiErrorCode;
  constructor(
    readonly status: number,
    message: string,
    readonly problems: string[] = [],
    code?: ApiErrorCode,
  ) {
    super(message);
    this.code = code ?? CODE_BY_STATUS[status] ?? 'invalid_request';
  }
}

/** The file part grew past the limit (the stream was cut there). */
class FileTooLarge extends Error {
  readonly code = 'ERR_FILE_TOO_LARGE';
}

const idParams = z.object({ id: z.string().refine(isCampaignId, 'campaign ids are 8 lowercase letters or digits') });

const mib = (n: number) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(n % 2 ** 20 === 0 ? 0 : 1)} MiB` : `${n} bytes`);

/** The file part as a byte source; a file cut at the size limit ends it with FileTooLarge. */
function fileSource(part: MultipartFile, limit: number): ByteSource {
  const file = part.file;
  return (async function* () {
    for await (const chunk of file.iterator({ destroyOnReturn: false })) {
      if (file.truncated) throw new FileTooLarge(`${part.filename} is larger than the ${mib(limit)} an upload may hold: split the list and upload the parts to POST /campaigns/:id/contacts`);
      yield chunk as Buffer;
    }
    if (file.truncated) throw new FileTooLarge(`${part.filename} is larger than the ${mib(limit)} an upload may hold: split the list and upload the parts to POST /campaigns/:id/contacts`);
  })();
}

/** Reads what is left of a file part and throws it away, so that the rest of the form can be read. */
async function discard(part: MultipartFile): Promise<void> {
  const file = part.file;
  if (file.readableEnded || file.destroyed) return;
  const ended = Promise.race([once(file, 'end'), once(file, 'close')]).catch(() => undefined);
  file.resume();
  await ended;
}

const LIMIT_CODES: Record<string, (l: UploadLimits) => string> = {
  FST_REQ_FILE_TOO_LARGE: (l) => `the file is larger than the ${mib(l.fileBytes)} an upload may hold: split the list`,
  FST_FILES_LIMIT: () => 'send one file part (the contact list) per request',
  FST_FIELDS_LIMIT: (l) => `the form has more than ${l.fields} fields`,
  FST_PARTS_LIMIT: (l) => `the form has more than ${l.fields + 1} parts: the campaign fields and one file`,
};

/** Turns whatever went wrong into a status and a message that says what to change. */
function refusal(err: unknown, limits: UploadLimits, log: FastifyBaseLogger): UploadRefused {
  if (err instanceof UploadRefused) return err;
  if (err instanceof FileTooLarge) return new UploadRefused(413, err.message);
  if (err instanceof IngestError) {
    if (err.cause instanceof FileTooLarge) return new UploadRefused(413, err.cause.message);
    return new UploadRefused(422, err.message, [`${err.code}: ${err.message}`]);
  }
  if (err instanceof ApiError) return new UploadRefused(err.status, err.message, err.problems, err.code);
  if (err instanceof DefinitionError) return new UploadRefused(400, 'invalid campaign definition', err.problems, 'invalid_definition');
  if (err instanceof UploadFieldsError) return new UploadRefused(400, "the form's fields cannot be used", err.problems, 'invalid_definition');
  if (err instanceof ContactsError) return new UploadRefused(API_ERROR_CODES.contacts_unavailable, err.message, [], 'contacts_unavailable');
  if (err instanceof CampaignStoreError) return new UploadRefused(404, err.message);
  if (err instanceof z.ZodError) return new UploadRefused(400, err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    const limit = LIMIT_CODES[code];
    if (limit) return new UploadRefused(413, limit(limits));
    if (code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') return new UploadRefused(415, 'send multipart/form-data: the campaign fields, then the contact list as a file part');
    if (code === 'FST_INVALID_JSON_FIELD_ERROR') return new UploadRefused(400, 'a field sent as application/json is not valid JSON');
    if (code === 'FST_PROTO_VIOLATION') return new UploadRefused(400, 'a field name is not allowed');
    // Cut off by the request limits (limits.ts), already logged there.
    if (code === 'ERR_BODY_TOO_SLOW') return new UploadRefused(408, err instanceof Error ? err.message : 'the body came too slowly');
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new UploadRefused(413, `the JSON body is larger than the ${mib(limits.jsonBytes)} it may hold: send the list as a CSV upload (multipart) or as a URL in contacts`);
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new UploadRefused(415, 'send multipart/form-data (the campaign fields, then the contact list as a file part) or application/json (a definition with contacts)');
    if (code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || (err instanceof SyntaxError && (err as { statusCode?: number }).statusCode === 400)) return new UploadRefused(400, `the JSON body cannot be read: ${(err as Error).message}`);
  }
  const message = err instanceof Error ? err.message : String(err);
  if (/multipart|part terminated|unexpected end of form|malformed part/i.test(message)) return new UploadRefused(400, `the multipart body cannot be read: ${message}`);
  log.error({ err }, 'upload failed');
  return new UploadRefused(500, 'internal error');
}

interface FormOutcome<T> {
  result: T;
  /** Fields that came after the file part (too late to count). */
  late: string[];
}

/**
 * Reads the form: fields until the file part, then `onFile` with the fields
 * read so far and the file as a byte source. Every part is read to the end
 * (what is not used is discarded) so the answer can always be given.
 */
async function readForm<T>(
  req: FastifyRequest,
  limits: UploadLimits,
  onFile: (fields: FormField[], source: ByteSource, fileName: string) => Promise<T>,
): Promise<FormOutcome<T>> {
  if (!req.isMultipart()) throw new UploadRefused(415, 'send multipart/form-data: the campaign fields, then the contact list as a file part');
  const fields: FormField[] = [];
  const late: string[] = [];
  let result: { value: T } | null = null;
  let failure: unknown = null;
  let sawFile = false;
  try {
    for await (const part of req.parts()) {
      if (part.type === 'field') {
        if (sawFile) late.push(part.fieldname);
        else if (part.fieldnameTruncated) failure ??= new UploadRefused(413, 'a field name is longer than the 100 bytes allowed');
        else if (part.valueTruncated) failure ??= new UploadRefused(413, `field ${part.fieldname} is longer than the ${mib(limits.fieldBytes)} a field may hold`);
        else fields.push({ name: part.fieldname, value: part.value });
        continue;
      }
      if (sawFile || failure) {
        await discard(part);
        continue;
      }
      sawFile = true;
      try {
        result = { value: await onFile(fields, fileSource(part, limits.fileBytes), part.filename || 'upload.csv') };
      } catch (err) {
        failure = err;
      } finally {
        await discard(part);
      }
    }
  } catch (err) {
    failure ??= err;
  }
  const lateHint = late.length > 0 ? `fields ${late.join(', ')} came after the file part: send every field before the file` : null;
  if (failure) {
    const r = refusal(failure, limits, req.log);
    if (lateHint && (r.status === 400 || failure instanceof UploadFieldsError)) throw new UploadRefused(r.status, r.message, [...r.problems, lateHint]);
    throw r;
  }
  if (!sawFile) {
    throw new UploadRefused(400, 'no contact list in the form: add the CSV as a file part, after the campaign fields');
  }
  return { result: result!.value, late };
}

function warnings(late: string[]): { warnings?: string[] } {
  return late.length > 0 ? { warnings: [`fields ${late.join(', ')} came after the file part and were ignored: send every field before the file`] } : {};
}

export async function uploadRoutes(app: FastifyInstance, opts: UploadOptions): Promise<void> {
  const limits: UploadLimits = { ...DEFAULT_UPLOAD_LIMITS, ...opts.limits };
  const openUrl = opts.openUrl ?? ((url: string) => openContacts({ kind: 'url', url }, { ...DEFAULT_CONTACTS_OPTIONS, privateAddresses: 'deny' }));
  await app.register(multipart, {
    throwFileSizeLimit: true,
    limits: {
      fileSize: limits.fileBytes,
      files: 1,
      fields: limits.fields,
      fieldSize: limits.fieldBytes,
      fieldNameSize: 100,
      parts: limits.fields + 1,
      headerPairs: 100,
    },
  });

  // Inputs checked against the zod schemas that /openapi.json is made from (a JSON definition kept as sent).
  app.setValidatorCompiler(checkOnly);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler((err, req, reply) => {
    const r = refusal(err, limits, req.log);
    return send(reply, r);
  });

  function send(reply: FastifyReply, r: UploadRefused) {
    // Cut off (a body too slow) or answered already (Redis went away meanwhile): nobody to answer.
    if (reply.sent || reply.raw.destroyed) return reply;
    // The request may still be arriving; do not keep the connection for another one.
    if (r.status === 413) reply.header('connection', 'close');
    return sendApiError(reply, new ApiError(r.code, r.message, r.problems, r.status));
  }

  async function answer<T>(reply: FastifyReply, work: () => Promise<T>): Promise<T | FastifyReply> {
    try {
      return await work();
    } catch (err) {
      return send(reply, refusal(err, limits, reply.request.log));
    }
  }

  // Uploads may be large and slow: their body is watched for its rate only (limits.ts).
  const large = { config: { largeBody: true } } as const;

  app.post(
    '/campaigns',
    {
      ...large,
      bodyLimit: limits.jsonBytes,
      schema: {
        tags: ['campaigns'],
        summary: 'Create a campaign: a CSV upload (multipart: the campaign fields, then the file) or a JSON definition with its contacts',
        description:
          'multipart/form-data: a `definition` field (JSON) and/or named fields (action, param.voicefile, cps, window, dnc, …), then the CSV as the last part; `dryRun=true` as a field checks the list and stores nothing. ' +
          'application/json: a definition with the fields of a jobs/ file, `contacts` an http(s) URL or an array of rows; `?dryRun=true` checks it and stores nothing.',
        consumes: ['application/json', 'multipart/form-data'],
        querystring: createQuery,
        body: {
          content: {
            'application/json': { schema: campaignJsonBody },
          },
        },
        response: { 201: createAnswer, 200: dryRunAnswer, ...errorAnswers(400, 403, 408, 413, 415, 422) },
      },
    },
    async (req, reply) =>
      answer(reply, async () => {
        if (!req.isMultipart()) return createFromJson(req, reply);
        const { result, late } = await readForm(req, limits, async (fields, source, fileName) => {
        if (fields.length === 0) {
          throw new UploadRefused(400, 'the file part came before the campaign fields', [
            `send the campaign fields first (definition, or ${UPLOAD_FIELD_NAMES.slice(3, 8).join(', ')}, …), then the contact list as the last part`,
          ]);
        }
        const parsed = parseUploadFields(fields);
        const def = opts.definition(parsed.raw);
        if (parsed.dryRun) return { dry: await opts.dryRun(def, source, fileName, null) };
        return { created: await opts.createCampaign(def, source, fileName) };
      });
        if ('dry' in result) return reply.code(200).send({ dryRun: true, import: result.dry, ...warnings(late) });
        return reply.code(201).send({ id: result.created.id, import: result.created.summary, ...warnings(late) });
      }),
  );

  /** A JSON definition: its contacts fetched or written out as CSV, then created (or dry run) as an upload is. */
  async function createFromJson(req: FastifyRequest, reply: FastifyReply) {
    const body = req.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new UploadRefused(415, 'send multipart/form-data (the campaign fields, then the contact list as a file part) or application/json (a definition with contacts)');
    }
    const { contacts, ...raw } = body as CampaignJsonBody;
    const def = opts.definition(raw);
    const dry = (req.query as { dryRun?: string }).dryRun === 'true';
    const opened = await openJsonContacts(contacts, openUrl);
    if (dry) return reply.code(200).send({ dryRun: true, import: await opts.dryRun(def, opened.source, opened.fileName, null) });
    const created = await opts.createCampaign(def, opened.source, opened.fileName);
    return reply.code(201).send({ id: created.id, import: created.summary });
  }

  app.post(
    '/campaigns/:id/contacts',
    {
      ...large,
      schema: {
        tags: ['campaigns'],
        summary: "Add a CSV list to a campaign (multipart: the file part; dryRun=true as a field checks it): numbers already in it are not added twice",
        params: idParamsSchema,
        consumes: ['multipart/form-data'],
        ...{ response: errorAnswers(400, 403, 404, 409, 413, 415, 422) },
      },
    },
    async (req, reply) =>
    answer(reply, async () => {
      const { id } = idParams.parse(req.params);
      const campaign = await opts.campaigns.get(id);
      if (!campaign) throw new UploadRefused(404, `no campaign ${id}`);
      if (campaign.state === 'cancelled' || campaign.state === 'completed') {
        throw new UploadRefused(409, `campaign ${id} is ${campaign.state}: its new contacts would never be dialed; create a new campaign for this list`);
      }
      const { result, late } = await readForm(req, limits, async (fields, source, fileName) => {
        const parsed = parseUploadFields(fields);
        const extra = Object.keys(parsed.raw);
        if (extra.length > 0) throw new UploadRefused(400, 'a list added to a campaign is read with the campaign\'s own definition', [`send no definition fields here (got ${extra.join(', ')}); only dryRun is accepted`]);
        if (parsed.dryRun) return { dry: await opts.dryRun(campaign.definition, source, fileName, id) };
        return { added: await opts.addContacts(id, source, fileName) };
      });
      if ('dry' in result) return reply.code(200).send({ id, dryRun: true, import: result.dry, ...warnings(late) });
      return reply.code(200).send({ id, import: result.added, ...warnings(late) });
    }),
  );
}
