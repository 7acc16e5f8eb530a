import { Type } from 'typebox';
import {
  CustomRoleMigrationBody,
  DataOf,
  DryRunQuery,
  MigrationPlan,
  SystemRolesMigrationBody,
} from '@roster/contracts';
import { contextOf, type Api } from '../../http/types.js';
import { errorResponses } from '../../http/schemas.js';
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
        querystring: DryRunQuery,
        body: Type.Optional(SystemRolesMigrationBody),
        response: { 200: DataOf(MigrationPlan), ...errorResponses },
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
        querystring: DryRunQuery,
        body: CustomRoleMigrationBody,
        response: { 200: DataOf(MigrationPlan), ...errorResponses },
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
