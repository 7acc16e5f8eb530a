/**
 * The shape every migration file exports. It lives alone here, apart from the history that imports
 * the migrations (history.ts), so that migrations importing this type make no import cycle.
 */
import type { Migration } from 'kysely';
import type { Dialect } from '../database.js';

export type MigrationFor = (dialect: Dialect) => Migration;
