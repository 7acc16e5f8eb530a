import { contextOf, type Api } from '../../http/types.js';
import { schemaOf } from '../../http/operations.js';
import type { RolesMigrationService } from './roles-migration.service.js';

const tags = ['Roles migration'];

export function registerRolesMigrationRoutes(app: Api, migration: RolesMigrationService): void {
  app.post(
    '/roles_migration/system_roles',
    {
      schema: {
        tags,
        summary: 'Convert legacy system roles into environment and project roles',
        description:
          '`dry_run` may be given in the query string or the body; a dry run writes nothing.',
        ...schemaOf('migrateSystemRoles'),
      },
    },
    async (request) => {
      const dryRun = request.query.dry_run ?? request.body?.dry_run ?? false;
      return { data: await migration.migrateSystemRoles(contextOf(request), dryRun) };
    },
  );
  app.post(
    '/roles_migration/custom_role',
    {
      schema: {
        tags,
        summary: 'Convert a legacy custom role into an environment role and a project role',
        ...schemaOf('migrateCustomRole'),
      },
    },
    async (request) => {
      const body = {
        ...request.body,
        dry_run: request.query.dry_run ?? request.body.dry_run ?? false,
      };
      return { data: await migration.migrateCustomRole(contextOf(request), body) };
    },
  );
}
