export { openContactList, readContactList } from './read.js';
export type { ContactList } from './read.js';
export { estimateRows } from './estimate.js';
export { IngestError, isIngestError, INGEST_ERROR_CODES } from './errors.js';
export type { IngestErrorCode } from './errors.js';
export { readOptionsSchema, resolveReadOptions, DEFAULT_MAX_ROW_BYTES } from './options.js';
export type { ReadOptions, ResolvedReadOptions, ReadHooks } from './options.js';
export { checkPhone } from './phone.js';
export type { PhoneRules, PhoneCheck } from './phone.js';
export { PHONE_HEADER_NAMES, TIMEZONE_HEADER_NAMES, DEFAULT_CUSTOM_FIELDS, normalizeHeader } from './columns.js';
export { REJECT_REASONS, NUMBER_FORMATS } from './types.js';
export type {
  ColumnRef,
  ContactPhone,
  ContactRecord,
  IngestProgress,
  IngestRecord,
  ListHeader,
  NumberFormat,
  ReadSummary,
  RejectReason,
  RejectRecord,
} from './types.js';
