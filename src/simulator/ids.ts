/** Sequences the simulator hands out: ledger order, bill ids, originated call ids. */
import { makeRng } from './rng.js';

export class IdSource {
  private seqN = 0;
  private billN = 0;
  private origN = 0;
  private readonly origBase: number;

  constructor(seed: string | number) {
    this.origBase = makeRng(`${seed}|ids`).int(0, 999_999);
  }

  nextSeq(): number {
    return ++this.seqN;
  }

  /** CDR `id` (bill id). */
  nextBill(): number {
    return 220_739 + this.billN++;
  }

  /** Six digits, distinct for a million calls in a row. */
  nextOrigSuffix(): string {
    return String((this.origBase + this.origN++) % 1_000_000).padStart(6, '0');
  }

  reset(): void {
    this.seqN = 0;
    this.billN = 0;
    this.origN = 0;
  }
}
