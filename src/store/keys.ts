/** Every Redis key the dialer writes, in one place. */
export function keys(prefix: string) {
  return {
    campaigns: `${prefix}:campaigns`,
    active: `${prefix}:active`,
    campaign: (cid: string) => `${prefix}:cmp:${cid}`,
    counts: (cid: string) => `${prefix}:cmp:${cid}:counts`,
    callbackCounts: (cid: string) => `${prefix}:cmp:${cid}:cb`,
    /** Running sums for reports: talk time, keypresses, retries scheduled. */
    stats: (cid: string) => `${prefix}:cmp:${cid}:stats`,
    /** Base of the row lists: contact idx lives in `rows:<idx / ROW_BUCKET>`. */
    rows: (cid: string) => `${prefix}:cmp:${cid}:rows`,
    rowBucket: (cid: string, bucket: number) => `${prefix}:cmp:${cid}:rows:${bucket}`,
    /** Freshly imported contacts waiting for their first dial, in list order (due from the campaign's `freshAt`). */
    fresh: (cid: string) => `${prefix}:cmp:${cid}:fresh`,
    contactState: (cid: string) => `${prefix}:cmp:${cid}:st`,
    due: (cid: string) => `${prefix}:cmp:${cid}:due`,
    feeding: (cid: string) => `${prefix}:cmp:${cid}:feeding`,
    phones: (cid: string) => `${prefix}:cmp:${cid}:phones`,
    /** Attempts begun per second (field: epoch second), the last few seconds only: the campaign's recent rate. */
    sends: (cid: string) => `${prefix}:cmp:${cid}:sends`,
    /** Contacts put back to wait for their number's frequency cap (member: idx, score: when the cap allows it). */
    capWaits: (cid: string) => `${prefix}:cmp:${cid}:capwait`,
    /** Attempts begun to one E.164 number (member: attempt id, score: epoch ms), across campaigns: frequency caps. */
    numberCalls: (e164: string) => `${prefix}:freq:${e164}`,
    rejectSeen: (cid: string) => `${prefix}:cmp:${cid}:rejseen`,
    attempt: (cuuid: string) => `${prefix}:att:${cuuid}`,
    deadlines: `${prefix}:deadlines`,
    pbxCallId: (id: string) => `${prefix}:pbxid:${id}`,
    callUuid: (uuid: string) => `${prefix}:calluuid:${uuid}`,
    callee: (family: string, number: string) => `${prefix}:callee:${family}:${number}`,
    callbackLog: `${prefix}:callbacks`,
    /** Contacts that reached a final status, for outbound notifications (a stream). */
    outbox: `${prefix}:outbox`,
    callbackTotals: `${prefix}:cbtotals`,
    dnc: (list: string) => `${prefix}:dnc:${list}`,
    dncLists: `${prefix}:dnclists`,
    bullPrefix: `${prefix}:bull`,
  };
}

export type Keys = ReturnType<typeof keys>;
