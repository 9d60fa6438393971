/**
 * What every CLI command shares: configuration, the container, errors that
 * end with a clear line instead of a stack, and option parsers.
 */
import { HistoryUnavailableError, MigrationError } from '../history/index.js';
import { InvalidArgumentError } from 'commander';
import { loadConfig, ConfigError, type Config } from '../config.js';
import { createContainer, type Container } from '../app/container.js';
import { createLogger } from '../infra/logger.js';
import { RedisUnavailableError } from '../infra/redis.js';
import { DefinitionError } from '../campaign/definition.js';
import { IngestError } from '../ingest/index.js';
import { ControlError } from '../campaign/control.js';
import { CampaignStoreError } from '../store/campaigns.js';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: Readonly<Record<string, string | undefined>>;
  isTty: boolean;
}

export const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  env: process.env,
  isTty: Boolean(process.stdout.isTTY),
};

export class CliExit extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Errors a user can fix get one clear line (or list) and exit code 2. */
export function describeError(err: unknown): { code: number; text: string } {
  if (err instanceof CliExit) return { code: err.exitCode, text: err.message };
  if (err instanceof ConfigError || err instanceof DefinitionError || err instanceof IngestError) return { code: 2, text: err.message };
  if (err instanceof RedisUnavailableError || err instanceof ControlError || err instanceof CampaignStoreError) return { code: 2, text: err.message };
  if (err instanceof HistoryUnavailableError || err instanceof MigrationError) return { code: 2, text: err.message };
  return { code: 1, text: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}

export function config(io: CliIo): Config {
  return loadConfig(io.env);
}

/** Runs `fn` with a container (quiet logs unless LOG_LEVEL says otherwise), always closing it. */
export async function withContainer<T>(io: CliIo, fn: (c: Container) => Promise<T>): Promise<T> {
  const cfg = config(io);
  const log = createLogger({ level: io.env.LOG_LEVEL ?? 'warn' });
  const c = await createContainer(cfg, { log });
  try {
    return await fn(c);
  } finally {
    await c.close(0);
  }
}

export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number 0 or more, got ${JSON.stringify(value)}`);
  return n;
}

export function wholeNumber(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value, got ${JSON.stringify(value)}`);
  return { ...previous, [value.slice(0, eq).trim()]: value.slice(eq + 1) };
}

/** A small fixed-width table. */
export function table(rows: (string | number)[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, String(c).length)));
  return rows.map((r) => r.map((c, i) => (typeof c === 'number' ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}
