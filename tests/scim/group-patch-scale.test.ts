/**
 * A SCIM group PATCH that adds or removes named members costs what it names, not the group's size
 * (issue 14: what grows with the data on a write path stops growing). Identity providers remove
 * one member at a time from groups of any size (`members[value eq "…"]`, or `members` with a
 * value list); the server used to read the group's whole membership to find those. Both SCIM
 * targets (end users, collaborators): on a group of BIG members seeded in bulk SQL the RFC 7644
 * §3.5.2 semantics hold (filters on members, a non-member, duplicates, the case of "value", the
 * audit event recording what was removed). That the cost no longer grows with the group is a
 * measurement, not a test assertion (no timing in tests): `node bench/mixed.mjs --grow
 * 0,25000,100000 --kinds 5 --only scim_group_patch` (docs/performance.md).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCluster, type Cluster, type Instance } from '../helpers/cluster.js';
import { testDialect } from '../helpers/database.js';
import {
  createConnection,
  scimClient,
  TARGETS,
  type ScimClient,
  type ScimTarget,
} from './helpers.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
/** Members of the big group: reading them all costs tens of ms, finding one costs nothing. */
const BIG = 60_000;

let cluster: Cluster;
let roster: Instance;
beforeAll(async () => {
  cluster = await startCluster();
  roster = cluster.instances[0]!;
});
afterAll(async () => {
  await cluster.close();
});

/** One second apart, in the format the server writes. */
const at = (i: string) =>
  testDialect === 'sqlite'
    ? `strftime('%Y-%m-%dT%H:%M:%fZ', '2025-01-01', '+' || ${i} || ' seconds')`
    : `to_char(timestamp '2025-01-01' + ${i} * interval '1 second', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * BIG people of the connection's population (with their SCIM records: the connection's users),
 * all made members of `groupId`, in bulk SQL.
 */
async function seedBigGroup(target: ScimTarget, connectionId: string, groupId: string) {
  const store = cluster.openDatabase();
  try {
    await store.db.transaction().execute(async (trx) => {
      const { workspace_id: w } = await trx
        .selectFrom('scim_connections')
        .select('workspace_id')
        .where('id', '=', connectionId)
        .executeTakeFirstOrThrow();
      const numbers = `n(i) as (select 1 union all select i + 1 from n where i < ${BIG})`;
      const statements =
        target === 'end_users'
          ? [
              `with recursive ${numbers} insert into end_users (workspace_id, name, email, email_key, status, mfa_enabled, source, created_at, updated_at)
                 select ${w}, 'Bulk ' || i, 'bulk' || i || '@bulk.example', 'bulk' || i || '@bulk.example', 'active', 0, 'manual', ${at('i')}, ${at('i')} from n`,
              `insert into end_user_group_members (workspace_id, group_id, end_user_id, created_at, source)
                 select ${w}, ${Number(groupId)}, id, created_at, 'external' from end_users
                 where workspace_id = ${w} and email_key like 'bulk%@bulk.example'`,
            ]
          : [
              `with recursive ${numbers} insert into members (workspace_id, name, email, email_key, time_zone, grant_type, created_at, updated_at)
                 select ${w}, 'Bulk ' || i, 'bulk' || i || '@bulk.example', 'bulk' || i || '@bulk.example', 'UTC', 'team', ${at('i')}, ${at('i')} from n`,
              `insert into group_memberships (workspace_id, group_id, member_id, invitation_id, created_at, expires_at, source)
                 select ${w}, '${groupId}', id, null, created_at, null, 'external' from members
                 where workspace_id = ${w} and email_key like 'bulk%@bulk.example'`,
            ];
      const person = target === 'end_users' ? 'end_user_id' : 'member_id';
      const table = target === 'end_users' ? 'end_users' : 'members';
      statements.push(
        `insert into scim_users (workspace_id, connection_id, ${person}, user_name, user_name_key, external_id, display_name, given_name, family_name, emails_text, active, resource, version, created_at, updated_at)
           select ${w}, '${connectionId}', id, email, email_key, 'bulk-' || id, name, 'Bulk', 'Person ' || id, '\n' || email_key || '\n', 1,
             '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' || email || '","active":true}', 1, created_at, created_at
           from ${table} where workspace_id = ${w} and email_key like 'bulk%@bulk.example'`,
      );
      for (const statement of statements) await sql.raw(statement).execute(trx);
    });
    if (testDialect === 'postgres') await sql`analyze`.execute(store.db);
  } finally {
    await store.close();
  }
}

describe.each(TARGETS)('SCIM group PATCH at any group size (%s)', (target) => {
  let scim: ScimClient;
  let connectionId: string;
  let big: string;
  const users: string[] = [];

  const patch = async (group: string, operations: unknown[]) => {
    const res = await scim.request('PATCH', `/Groups/${group}`, {
      schemas: [PATCH],
      Operations: operations,
    });
    expect(res.status, res.text).toBe(204);
  };
  const memberIds = async (group: string) => {
    const res = await scim.request('GET', `/Groups/${group}?attributes=members`);
    expect(res.status).toBe(200);
    return (res.body.members ?? []).map((m: { value: string }) => m.value) as string[];
  };
  const removedByLastEvent = async (group: string) => {
    const type = target === 'end_users' ? 'end_user_group' : 'user_group';
    const res = await roster.get(`/api/audit_events?target_type=${type}&target_id=${group}`);
    expect(res.status).toBe(200);
    return res.body.data[0].after.members_removed as number[];
  };

  beforeAll(async () => {
    const connection = await createConnection(roster, 'dev', target);
    connectionId = connection.id;
    scim = scimClient(roster, connection);
    for (let i = 0; i < 4; i++) {
      const res = await scim.request('POST', '/Users', {
        userName: `scale-${target}-${i}@example.com`,
        name: { givenName: 'Scale', familyName: `${i}` },
        emails: [{ value: `scale-${target}-${i}@example.com`, type: 'work', primary: true }],
        active: true,
      });
      expect(res.status, res.text).toBe(201);
      users.push(res.body.id);
    }
    const group = async (displayName: string) => {
      const res = await scim.request('POST', '/Groups', { displayName, members: [] });
      expect(res.status, res.text).toBe(201);
      return res.body.id as string;
    };
    big = await group(`Big ${target}`);
    await seedBigGroup(target, connectionId, big);
  }, 120_000);

  it('removes by members[value eq] and by value lists exactly the named members, whatever the filter spelling, on a big group', async () => {
    const [a, b, c, d] = users as [string, string, string, string];
    await patch(big, [
      { op: 'add', path: 'members', value: [{ value: a }, { value: b }, { value: c }] },
    ]);
    expect(await memberIds(big)).toHaveLength(BIG + 3);

    // "Value" and the operator in any case.
    await patch(big, [{ op: 'remove', path: `members[Value EQ "${a}"]` }]);
    expect(await removedByLastEvent(big)).toEqual([Number(a)]);
    // A non-member named (d), one named twice and one with a type clause: only b is removed, once.
    await patch(big, [
      {
        op: 'remove',
        path: `members[value eq "${d}" or value eq "${b}" or (value eq "${b}" and type eq "User")]`,
      },
    ]);
    expect(await removedByLastEvent(big)).toEqual([Number(b)]);
    // A clause that no member can satisfy removes nobody.
    await patch(big, [{ op: 'remove', path: `members[value eq "${c}" and type eq "Group"]` }]);
    expect(await removedByLastEvent(big)).toEqual([]);
    // The same member removed twice in one PATCH (by value list, then by filter): once.
    await patch(big, [
      { op: 'remove', path: 'members', value: [{ value: c }, { value: c }, { value: d }] },
      { op: 'remove', path: `members[value eq "${c}"]` },
    ]);
    expect(await removedByLastEvent(big)).toEqual([Number(c)]);

    const left = await memberIds(big);
    expect(left).toHaveLength(BIG);
    expect(left).not.toContain(a);
    expect(left).not.toContain(b);
    expect(left).not.toContain(c);

    // A filter that names no value (`sw`, `ne`, `not`) is still tested on every member: here it
    // removes the bulk member whose ID is the smallest one it names.
    const bulk = left.map(Number).sort((x, y) => x - y);
    const first = String(bulk[0]);
    await patch(big, [
      { op: 'remove', path: `members[value sw "${first}" and not (value ne "${first}")]` },
    ]);
    expect(await removedByLastEvent(big)).toEqual([bulk[0]]);
    expect(await memberIds(big)).toHaveLength(BIG - 1);
  }, 120_000);
});
