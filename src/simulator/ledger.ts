/**
 * The ledger: one entry per dial request received, kept in a bounded ring
 * (the oldest dropped beyond the limit, and counted) and optionally appended
 * to a JSONL file.
 */
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import type { SipcallOperation } from './sipcall.js';

export type Family = 'sipcall' | 'pbx';
export type Operation = SipcallOperation | 'originate';

/** How the HTTP request was answered. */
export const LEDGER_ANSWERS = ['accepted', 'rejected', 'error', 'reset', 'timeout', '429'] as const;
export type LedgerAnswer = (typeof LEDGER_ANSWERS)[number];

export interface LedgerEntry {
  /** Order of arrival, from 1. */
  seq: number;
  /** Epoch ms when the request arrived. */
  at: number;
  family: Family;
  /** null when the request named no known operation. */
  operation: Operation | null;
  /** The number called (destnumber, bnumber or callee), when the request named one. */
  number: string | null;
  customuuid: string | null;
  /** pbx: the id returned (or that would have been returned) for a placed call. */
  originatedCallId: string | null;
  /** sipcall: the call uuid the callbacks carry. */
  callUuid: string | null;
  answer: LedgerAnswer;
  httpStatus: number | null;
  /** Why the request was refused, when it was. */
  reason: string | null;
  /** Whether a call was placed (true also for reset and timeout). */
  placed: boolean;
  /** The outcome drawn or scripted (`answered:1:30`, `busy`, `reset`, …); null when refused before one was chosen. */
  outcome: string | null;
  scripted: boolean;
  /** The call as the CDR reports it, for a placed call; `cdrs` is how many CDR posts are planned (0 when lost, 2 when duplicated). */
  result: { disposition: string; billsec: number; key: string; cdrs: number } | null;
  /** Milliseconds the response was held back (slowResponseMs). */
  delayMs: number;
}

export class Ledger {
  private ring: LedgerEntry[] = [];
  private start = 0;
  private droppedCount = 0;
  private file: WriteStream | null;
  private fileError: Error | null = null;

  constructor(
    private readonly limit: number,
    filePath: string | null,
  ) {
    this.file = filePath === null ? null : createWriteStream(filePath, { flags: 'a' });
    this.file?.on('error', (err) => {
      this.fileError = err;
    });
  }

  add(entry: LedgerEntry): void {
    if (this.file !== null && this.fileError === null) this.file.write(`${JSON.stringify(entry)}\n`);
    if (this.limit === 0) {
      this.droppedCount++;
      return;
    }
    if (this.ring.length < this.limit) {
      this.ring.push(entry);
      return;
    }
    this.ring[this.start] = entry;
    this.start = (this.start + 1) % this.limit;
    this.droppedCount++;
  }

  /** Entries kept, oldest first. */
  entries(): LedgerEntry[] {
    return this.start === 0 ? this.ring.slice() : [...this.ring.slice(this.start), ...this.ring.slice(0, this.start)];
  }

  get size(): number {
    return this.ring.length;
  }

  get dropped(): number {
    return this.droppedCount;
  }

  get error(): string | null {
    return this.fileError?.message ?? null;
  }

  clear(): void {
    this.ring = [];
    this.start = 0;
    this.droppedCount = 0;
  }

  async close(): Promise<void> {
    const file = this.file;
    this.file = null;
    if (file === null) return;
    await new Promise<void>((resolve) => {
      if (this.fileError !== null) {
        file.destroy();
        resolve();
        return;
      }
      file.end(() => resolve());
    });
  }
}
