/**
 * A dialing process puts its environment's account limits in force when it
 * starts (an operator's `account pace` stays), once, for the providers it is
 * configured for: another process may serve the others with their own.
 */
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { PROVIDER_FAMILIES } from '../domain/types.js';
import type { AccountLimitStore } from '../pacing/account-limits.js';

/**
 * The once-only step the dialing roles call as they start. Nothing waits for
 * it (a server starts while Redis is away); a failure is logged and the
 * limits in force stay.
 */
export function makeAccountLimitsApply(deps: {
  config: Pick<Config, 'providers' | 'accountLimits'>;
  accountLimits: Pick<AccountLimitStore, 'applyEnvironment'>;
  log: Logger;
}): () => void {
  const { config, accountLimits, log } = deps;
  let applied = false;
  return () => {
    if (applied) return;
    applied = true;
    void (async () => {
      for (const family of PROVIDER_FAMILIES) {
        if (!config.providers[family]) continue;
        const inForce = await accountLimits.applyEnvironment(family, config.accountLimits[family]);
        log.info({ account: family, ...inForce }, 'account limits in force');
      }
    })().catch((err: unknown) => log.error({ err }, 'could not put the account limits of the environment in force'));
  };
}
