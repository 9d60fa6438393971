import { ConfigError, loadConfig } from '../../src/config.js';

/** The problems loadConfig finds in `env` (no .env file read), or [] when it takes it. */
export function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env, null);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}
