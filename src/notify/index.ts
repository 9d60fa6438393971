export { startNotifier, makeNotifier, NotifierEvents, type Notifier, type RunningNotifier, type NotifierDeps, type NotifierEventMap } from './notifier.js';
export { notificationCounts, deadLetters, resendDeadLetters, type NotificationCounts, type DeadLetter } from './deliveries.js';
export { resolveNotifierOptions, afterFailure, NotifierOptionsError, type NotifierOptions, type NotifierOptionsInput } from './policy.js';
export { signBody, deliveryId, HEADER_DELIVERY, HEADER_SIGNATURE, HEADER_TIMESTAMP, HEADER_ATTEMPT } from './signature.js';
export type { NotificationPayload } from './payload.js';
export { notifyKeys } from './keys.js';
