/**
 * The history schema's migrations, in order. A new one is a new module
 * (`NNN_name.ts`, its SQL as the default export) added at the end here.
 */
import history001 from './001_history.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [{ version: 1, name: 'history', sql: history001 }];
