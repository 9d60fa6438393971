import { randomBytes } from 'node:crypto';

const CID = /^[a-z0-9]{8}$/;
const CUUID = /^([a-z0-9]{8})-(\d{1,9})-(\d{1,4})$/;

/** A campaign id: 8 lowercase base-36 characters. */
export function newCampaignId(): string {
  const bytes = randomBytes(8);
  let s = '';
  for (const b of bytes) s += (b % 36).toString(36);
  return s;
}

export function isCampaignId(value: string): boolean {
  return CID.test(value);
}

export interface AttemptRef {
  campaignId: string;
  contact: number;
  attempt: number;
}

/**
 * The attempt id sent as customuuid: `<campaign>-<contact index>-<attempt number>`.
 * Unique per dial, safe in a form field, and it leads to campaign, contact and
 * attempt without a scan.
 */
export function attemptId(ref: AttemptRef): string {
  return `${ref.campaignId}-${ref.contact}-${ref.attempt}`;
}

export function parseAttemptId(value: string): AttemptRef | null {
  const m = CUUID.exec(value);
  if (!m) return null;
  return { campaignId: m[1]!, contact: Number(m[2]), attempt: Number(m[3]) };
}

/** The BullMQ queue that carries one campaign's dial jobs. */
export function dialQueueName(campaignId: string): string {
  return `dial-${campaignId}`;
}
