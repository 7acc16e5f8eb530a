/**
 * The one migration history both dialects share. A migration that has landed is never edited:
 * add a new file and list it here, in order.
 */
import type { Migration, MigrationProvider } from 'kysely';
import type { Dialect } from '../database.js';
import { coreMigration } from './0001-core.js';

export type MigrationFor = (dialect: Dialect) => Migration;

const history: ReadonlyArray<[name: string, migration: MigrationFor]> = [['0001-core', coreMigration]];

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    getMigrations: () =>
      Promise.resolve(Object.fromEntries(history.map(([name, make]) => [name, make(dialect)]))),
  };
}
