/**
 * The body of one notification: the campaign, the contact with its original
 * CSV columns, and its result, mapped as the results export maps it.
 */
import type { ContactStatus } from '../domain/types.js';
import type { CampaignRecord } from '../store/campaigns.js';
import type { ContactStore } from '../store/contacts.js';
import type { AttemptStore } from '../store/attempts.js';
import { contactResult, originalColumns, type ContactResult } from '../reports/result.js';
import type { OutboxEntry } from './outbox.js';

export type NotificationEvent = 'contact.final' | 'contact.corrected';

export interface NotificationPayload extends Omit<ContactResult, 'status'> {
  /** Same on every try of this notification (also in X-Autodialer-Delivery). */
  delivery_id: string;
  /** `contact.corrected` when a late result changed a status already sent. */
  event: NotificationEvent;
  /** When the status was recorded (UTC ISO 8601). */
  occurred_at: string;
  campaign: { id: string; name: string };
  contact: {
    index: number;
    /** Line of the contact list the contact came from. */
    line: number | null;
    /** The row's original columns by header name. */
    columns: Record<string, string>;
    /** Values beyond the header, when the row had more. */
    extra?: string[];
  };
  /** The status this notification is about. */
  status: ContactStatus;
  /** The status before: `pending` for a first result, the corrected one otherwise. */
  previous_status: ContactStatus;
}

export interface PayloadDeps {
  contacts: Pick<ContactStore, 'row' | 'state'>;
  attempts: Pick<AttemptStore, 'get'>;
}

export async function buildPayload(deps: PayloadDeps, campaign: CampaignRecord, entry: OutboxEntry, delivery: string): Promise<NotificationPayload> {
  const [row, { state }] = await Promise.all([deps.contacts.row(campaign.id, entry.contact), deps.contacts.state(campaign.id, entry.contact)]);
  const last = state.a ? await deps.attempts.get(state.a) : null;
  const result = contactResult(state, last);
  const { cells, extra } = originalColumns(campaign.header, row?.v ?? []);
  const columns: Record<string, string> = {};
  if (campaign.header.length > 0) campaign.header.forEach((h, j) => (columns[h] = cells[j] ?? ''));
  else cells.forEach((v, j) => (columns[`column_${j + 1}`] = v));
  return {
    delivery_id: delivery,
    event: entry.from === 'pending' ? 'contact.final' : 'contact.corrected',
    occurred_at: new Date(entry.at).toISOString(),
    campaign: { id: campaign.id, name: campaign.definition.name },
    contact: { index: entry.contact, line: row?.l ?? null, columns, ...(extra.length > 0 ? { extra } : {}) },
    ...result,
    status: entry.status,
    previous_status: entry.from,
  };
}
