/**
 * The snapshot's wire format: each table of rows the access index is built from
 * (decisions.repository.ts) as its column names once and each row as an array of cells, which is
 * about half the size of one JSON object per row. The column lists are written once, here, and
 * used both to encode (the server) and to decode (snapshot-index.ts, in the SDK); a snapshot whose
 * columns are not these is refused rather than misread.
 */
import type { SnapshotTable, SnapshotTableName } from '@roster/contracts';
import type {
  EndUserSliceRows,
  GrantIndexRow,
  MembershipIndexRow,
  WorkspaceIndexRows,
} from './decisions.repository.js';

/** Everything a snapshot holds, as rows. */
export interface SnapshotRows {
  collaborators: WorkspaceIndexRows & {
    memberships: MembershipIndexRow[];
    grants: GrantIndexRow[];
  };
  endUsers: EndUserSliceRows;
}

type Row<T> = T extends readonly (infer R)[] ? R : never;
type Columns<T> = readonly (keyof T & string)[];
type Collaborators = SnapshotRows['collaborators'];

/** Which row list each table is, and its columns, in order. */
const COLLABORATOR_TABLES = {
  environments: ['environments', ['id', 'type']],
  legacy_roles: ['legacyRoles', ['id', 'name', 'privileges', 'system', 'project_ids']],
  environment_roles: ['environmentRoles', ['id', 'name', 'config']],
  project_roles: ['projectRoles', ['id', 'name', 'config']],
  members: ['members', ['id', 'name', 'email', 'email_key']],
  member_roles: [
    'memberRoles',
    ['member_id', 'environment_id', 'role_type', 'legacy_role_id', 'environment_role_id'],
  ],
  groups: ['groups', ['id', 'name', 'system']],
  projects: ['projects', ['id', 'name', 'environment_id']],
  suspensions: ['suspensions', ['member_id', 'environment_id']],
  memberships: ['memberships', ['group_id', 'member_id', 'expires_at']],
  grants: [
    'grants',
    ['id', 'project_id', 'project_role_id', 'member_id', 'group_id', 'created_at', 'expires_at'],
  ],
} as const satisfies {
  [table in SnapshotTableName]?: {
    [K in keyof Collaborators]: readonly [K, Columns<Row<Collaborators[K]>>];
  }[keyof Collaborators];
};

const END_USER_TABLES = {
  end_users: ['users', ['id', 'name', 'email', 'email_key', 'status']],
  end_user_environments: ['environmentAccess', ['end_user_id', 'environment_id']],
  end_user_groups: ['groups', ['id', 'environment_id', 'name', 'managed_by', 'system']],
  end_user_group_members: ['groupMembers', ['group_id', 'end_user_id']],
  features: ['features', ['id', 'environment_id', 'name']],
  feature_grants: ['featureGrants', ['id', 'feature_id', 'end_user_id', 'group_id']],
  policies: ['policies', ['id', 'feature_id', 'name', 'tools', 'scope_type', 'effect']],
  policy_targets: ['policyTargets', ['policy_id', 'end_user_id', 'group_id']],
} as const satisfies {
  [table in SnapshotTableName]?: {
    [K in keyof EndUserSliceRows]: readonly [K, Columns<Row<EndUserSliceRows[K]>>];
  }[keyof EndUserSliceRows];
};

type Cell = SnapshotTable['rows'][number][number];

function encode(rows: readonly object[], columns: readonly string[]): SnapshotTable {
  return {
    columns: [...columns],
    rows: rows.map((row) => columns.map((column) => (row as Record<string, Cell>)[column] ?? null)),
  };
}

function decode(name: string, table: SnapshotTable, columns: readonly string[]): object[] {
  if (table.columns.length !== columns.length || table.columns.some((c, i) => c !== columns[i]))
    throw new Error(
      `access snapshot: table ${name} has columns ${table.columns.join(', ')}, expected ${columns.join(', ')} (a server of another version?)`,
    );
  return table.rows.map((cells) => {
    const row: Record<string, Cell> = {};
    for (let i = 0; i < columns.length; i++) row[columns[i] as string] = cells[i] ?? null;
    return row;
  });
}

export function encodeSnapshotTables(rows: SnapshotRows): Record<SnapshotTableName, SnapshotTable> {
  const tables: Partial<Record<SnapshotTableName, SnapshotTable>> = {};
  for (const [name, [key, columns]] of Object.entries(COLLABORATOR_TABLES))
    tables[name as SnapshotTableName] = encode(rows.collaborators[key], columns);
  for (const [name, [key, columns]] of Object.entries(END_USER_TABLES))
    tables[name as SnapshotTableName] = encode(rows.endUsers[key], columns);
  return tables as Record<SnapshotTableName, SnapshotTable>;
}

/**
 * The rows back from the tables. Each table's cells are the columns checked above, written by
 * encodeSnapshotTables from these row types: the casts restate what the column check established.
 */
export function decodeSnapshotTables(
  tables: Record<SnapshotTableName, SnapshotTable>,
): SnapshotRows {
  const collaborators: Record<string, object[]> = {};
  for (const [name, [key, columns]] of Object.entries(COLLABORATOR_TABLES))
    collaborators[key] = decode(name, tables[name as SnapshotTableName], columns);
  const endUsers: Record<string, object[]> = {};
  for (const [name, [key, columns]] of Object.entries(END_USER_TABLES))
    endUsers[key] = decode(name, tables[name as SnapshotTableName], columns);
  return {
    collaborators: collaborators as unknown as SnapshotRows['collaborators'],
    endUsers: endUsers as unknown as EndUserSliceRows,
  };
}
