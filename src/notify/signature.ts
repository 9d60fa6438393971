/**
 * Signing of outbound notifications, in the manner of Stripe's webhooks:
 * an HMAC-SHA256 with the campaign's webhook secret over
 * "<unix seconds>.<raw body>", sent as "sha256=<hex>" beside the timestamp.
 */
import { createHmac } from 'node:crypto';

export const HEADER_TIMESTAMP = 'X-Autodialer-Timestamp';
export const HEADER_SIGNATURE = 'X-Autodialer-Signature';
export const HEADER_DELIVERY = 'X-Autodialer-Delivery';
export const HEADER_ATTEMPT = 'X-Autodialer-Attempt';

export function signBody(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`;
}

/** The same id for every try of one contact reaching one status, so a receiver can drop repeats. */
export function deliveryId(campaignId: string, contact: number, status: string): string {
  return `${campaignId}-${contact}-${status}`;
}

export function signedHeaders(opts: { secret: string; now: number; body: string; delivery: string; attempt: number }): Record<string, string> {
  const timestamp = Math.floor(opts.now / 1000);
  return {
    'content-type': 'application/json',
    'user-agent': 'autodialer-notifier',
    [HEADER_TIMESTAMP.toLowerCase()]: String(timestamp),
    [HEADER_SIGNATURE.toLowerCase()]: signBody(opts.secret, timestamp, opts.body),
    [HEADER_DELIVERY.toLowerCase()]: opts.delivery,
    [HEADER_ATTEMPT.toLowerCase()]: String(opts.attempt),
  };
}
