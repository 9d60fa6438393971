/**
 * Provider account limits as the environment sets them (SIPCALL_MAX_CPS,
 * SIPCALL_MAX_CHANNELS, PBX_MAX_CPS, PBX_MAX_CHANNELS). config.ts, the only
 * reader of the environment, passes its reader in; every problem names its
 * variable.
 */
import { z } from 'zod';
import type { ProviderFamily } from '../domain/types.js';
import { intIn, pick, type EnvGet } from '../infra/env-values.js';
import { ACCOUNT_LIMIT_VARS, type AccountLimitsEnv } from './account-limits.js';

const cpsIn = (name: string) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?$/, `${name} must be a number of calls per second such as 10 or 0.5 (0: no limit)`)
    .transform(Number)
    .refine((n) => n <= 10_000, `${name} must be at most 10000`);

/** Each provider's limits: a number (0 = no limit), or null when unset (the built-in default applies). */
export function accountLimitsFromEnv(get: EnvGet, problems: string[]): Record<ProviderFamily, AccountLimitsEnv> {
  const of = (family: ProviderFamily): AccountLimitsEnv => {
    const vars = ACCOUNT_LIMIT_VARS[family];
    return {
      cps: pick(problems, vars.cps, cpsIn(vars.cps), get(vars.cps)) ?? null,
      maxConcurrent: pick(problems, vars.maxConcurrent, intIn(vars.maxConcurrent, 0, 100_000), get(vars.maxConcurrent)) ?? null,
    };
  };
  return { sipcall: of('sipcall'), pbx: of('pbx') };
}
