/**
 * Interoperability with SCIM clients other than Okta's and Entra's: the checks python-scim's
 * scim2-tester makes (through scim2-client and the strict pydantic models of scim2-models), which
 * cannot run here (no PyPI), reproduced over HTTP — discovery documents a client can build its
 * models from, `POST /.search` at the root and per type, PATCH with the extension URN as path,
 * value-path filters on multi-valued attributes, and removing `active`.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRoster, type Roster } from '../helpers/roster.js';
import { createConnection, scimClient, TARGETS, type ScimClient } from './helpers.js';

const PATCH = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const ERROR = 'urn:ietf:params:scim:api:messages:2.0:Error';
const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

let roster: Roster;
beforeAll(async () => {
  roster = await startRoster();
});
afterAll(async () => {
  await roster.close();
});

// ---- scim2-models' rules for discovery documents (RFC 7643 §5-§7) ----------------------------

const TYPES = [
  'string',
  'complex',
  'boolean',
  'decimal',
  'integer',
  'dateTime',
  'reference',
  'binary',
];
const MUTABILITY = ['readOnly', 'readWrite', 'immutable', 'writeOnly'];
const RETURNED = ['always', 'never', 'default', 'request'];
const UNIQUENESS = ['none', 'server', 'global'];
const AUTH_TYPES = ['oauth', 'oauth2', 'oauthbearertoken', 'httpbasic', 'httpdigest'];

interface Attribute {
  name?: unknown;
  type?: unknown;
  multiValued?: unknown;
  mutability?: unknown;
  returned?: unknown;
  uniqueness?: unknown;
  required?: unknown;
  caseExact?: unknown;
  referenceTypes?: unknown;
  subAttributes?: Attribute[];
}

/**
 * What scim2-models' `Attribute._to_python` needs to build a model field, as problems: a
 * reference without `referenceTypes` (its KeyError that stops python-scim's client at
 * discovery), unknown keywords, a complex attribute without sub-attributes. A reference type
 * other than `external`/`uri` must name a resource type the server has (the tester creates one
 * to point at).
 */
function attributeProblems(attributes: Attribute[], where: string, resourceTypes: string[]) {
  const problems: string[] = [];
  for (const a of attributes) {
    const at = `${where}${String(a.name)}`;
    if (typeof a.name !== 'string' || a.name === '') problems.push(`${at}: name`);
    if (!TYPES.includes(a.type as string)) problems.push(`${at}: type ${String(a.type)}`);
    if (typeof a.multiValued !== 'boolean') problems.push(`${at}: multiValued`);
    for (const [key, allowed] of [
      ['mutability', MUTABILITY],
      ['returned', RETURNED],
      ['uniqueness', UNIQUENESS],
    ] as const) {
      if (a[key] !== undefined && !allowed.includes(a[key] as string))
        problems.push(`${at}: ${key} ${JSON.stringify(a[key])}`);
    }
    for (const key of ['required', 'caseExact'] as const)
      if (a[key] !== undefined && typeof a[key] !== 'boolean') problems.push(`${at}: ${key}`);
    if (a.type === 'reference') {
      const types = a.referenceTypes;
      if (!Array.isArray(types) || types.length === 0)
        problems.push(`${at}: a reference without referenceTypes`);
      else
        for (const t of types as unknown[])
          if (t !== 'external' && t !== 'uri' && !resourceTypes.includes(t as string))
            problems.push(`${at}: referenceTypes names ${String(t)}, not a resource type`);
    } else if (a.referenceTypes !== undefined) {
      problems.push(`${at}: referenceTypes on a ${String(a.type)}`);
    }
    if (a.type === 'complex') {
      if (!Array.isArray(a.subAttributes) || a.subAttributes.length === 0)
        problems.push(`${at}: complex without subAttributes`);
      else problems.push(...attributeProblems(a.subAttributes, `${at}.`, resourceTypes));
    } else if (a.subAttributes !== undefined) {
      problems.push(`${at}: subAttributes on a ${String(a.type)}`);
    }
  }
  return problems;
}

describe('discovery, as scim2-models validates it', () => {
  let scim: ScimClient;
  beforeAll(async () => {
    scim = scimClient(roster, await createConnection(roster));
  });

  it('declares every attribute of /Schemas in a form a client can build its models from', async () => {
    const types = await scim.request('GET', '/ResourceTypes');
    const names = types.body.Resources.map((t: { name: string }) => t.name);
    const res = await scim.request('GET', '/Schemas');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/scim\+json/);
    const problems: string[] = [];
    for (const schema of res.body.Resources) {
      expect(schema.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:Schema']);
      expect(schema.id).toMatch(/^urn:ietf:params:scim:schemas:/);
      expect(typeof schema.name).toBe('string');
      problems.push(...attributeProblems(schema.attributes, `${schema.name as string}:`, names));
    }
    expect(problems).toEqual([]);
  });

  it('declares the reference types RFC 7643 §8.7.1 gives', async () => {
    const schema = (await scim.request('GET', `/Schemas/${USER}`)).body;
    const find = (attrs: Attribute[], name: string) =>
      attrs.find((a) => a.name === name) as Attribute;
    const sub = (name: string, subName: string) =>
      find(find(schema.attributes, name).subAttributes ?? [], subName);
    expect(find(schema.attributes, 'profileUrl').referenceTypes).toEqual(['external']);
    expect(sub('photos', 'value').referenceTypes).toEqual(['external']);
    expect(sub('groups', '$ref').referenceTypes).toEqual(['Group']);
    expect(sub('x509Certificates', 'value').type).toBe('binary');
    const enterprise = (await scim.request('GET', `/Schemas/${ENTERPRISE}`)).body;
    const manager = find(enterprise.attributes, 'manager');
    expect(find(manager.subAttributes ?? [], '$ref').referenceTypes).toEqual(['User']);
    const group = (await scim.request('GET', `/Schemas/${GROUP}`)).body;
    const members = find(group.attributes, 'members');
    expect(find(members.subAttributes ?? [], '$ref').referenceTypes).toEqual(['User']);
  });

  it('answers a ServiceProviderConfig with every required part (RFC 7643 §5)', async () => {
    const res = await scim.request('GET', '/ServiceProviderConfig');
    expect(res.status).toBe(200);
    const config = res.body;
    expect(config.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig']);
    for (const key of ['patch', 'bulk', 'filter', 'changePassword', 'sort', 'etag'])
      expect(typeof config[key].supported).toBe('boolean');
    expect(Number.isInteger(config.bulk.maxOperations)).toBe(true);
    expect(Number.isInteger(config.bulk.maxPayloadSize)).toBe(true);
    expect(Number.isInteger(config.filter.maxResults)).toBe(true);
    expect(config.authenticationSchemes.length).toBeGreaterThan(0);
    for (const scheme of config.authenticationSchemes) {
      expect(AUTH_TYPES).toContain(scheme.type);
      expect(typeof scheme.name).toBe('string');
      expect(typeof scheme.description).toBe('string');
      for (const uri of [scheme.specUri, scheme.documentationUri])
        if (uri !== undefined) expect(() => new URL(uri as string)).not.toThrow();
    }
    expect(() => new URL(config.documentationUri as string)).not.toThrow();
  });

  it('answers ResourceTypes whose schemas and extensions are all served (RFC 7643 §6)', async () => {
    const res = await scim.request('GET', '/ResourceTypes');
    expect(res.status).toBe(200);
    expect(res.body.totalResults).toBe(res.body.Resources.length);
    for (const type of res.body.Resources) {
      expect(type.schemas).toEqual(['urn:ietf:params:scim:schemas:core:2.0:ResourceType']);
      expect(typeof type.name).toBe('string');
      expect(type.endpoint).toMatch(/^\/\w+$/);
      expect(Array.isArray(type.schemaExtensions)).toBe(true);
      const byId = await scim.request('GET', `/ResourceTypes/${type.id as string}`);
      expect(byId.status).toBe(200);
      expect(byId.body).toEqual(type);
      for (const schema of [
        type.schema as string,
        ...type.schemaExtensions.map((e: { schema: string; required: unknown }) => {
          expect(typeof e.required).toBe('boolean');
          return e.schema;
        }),
      ]) {
        expect((await scim.request('GET', `/Schemas/${schema}`)).status).toBe(200);
      }
    }
  });

  it('answers a SCIM 404 Error for an unknown schema, resource type and URL', async () => {
    for (const path of [
      `/Schemas/${randomUUID()}`,
      `/ResourceTypes/${randomUUID()}`,
      `/${randomUUID()}`,
    ]) {
      const res = await scim.request('GET', path);
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ schemas: [ERROR], status: '404' });
    }
  });
});

// ---- the protocol, for both targets -----------------------------------------------------------

describe.each(TARGETS)('with a %s connection', (target) => {
  let scim: ScimClient;
  const ids: Record<string, string> = {};

  async function createUser(body: Record<string, unknown>) {
    const res = await scim.request('POST', '/Users', { schemas: [USER], ...body });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  beforeAll(async () => {
    scim = scimClient(roster, await createConnection(roster, 'dev', target));
    ids.ann = await createUser({
      userName: `ann-${target}@example.com`,
      externalId: 'ext-ann',
      displayName: 'Ann',
      emails: [
        { value: `ann-${target}@example.com`, type: 'work', primary: true },
        { value: 'shared@example.net', type: 'home' },
      ],
      phoneNumbers: [{ value: '+33 1 00 00 00 01', type: 'mobile' }],
      addresses: [{ locality: 'Paris', country: 'FR', type: 'work' }],
      roles: [{ value: 'auditor' }],
    });
    ids.bob = await createUser({
      userName: `bob-${target}@example.com`,
      displayName: 'Bob',
      emails: [
        { value: 'shared@example.net', type: 'work', primary: true },
        { value: `bob-${target}@home.example`, type: 'home' },
      ],
      phoneNumbers: [{ value: '+33 1 00 00 00 02', type: 'work' }],
      addresses: [{ locality: 'Lyon', country: 'FR', type: 'work' }],
    });
    const group = await scim.request('POST', '/Groups', {
      schemas: [GROUP],
      displayName: `Interop ${target}`,
      externalId: 'ext-group',
      members: [{ value: ids.ann }],
    });
    expect(group.status).toBe(201);
    ids.group = group.body.id;
  });

  async function found(filter: string): Promise<string[]> {
    const res = await scim.request('GET', `/Users?filter=${encodeURIComponent(filter)}`);
    expect(res.status, res.text).toBe(200);
    return res.body.Resources.map((r: { id: string }) => r.id);
  }

  describe('value-path filters on multi-valued attributes', () => {
    it('matches emails[type eq "work"].value eq "…" on one and the same email', async () => {
      // Ann has shared@ as her home email, Bob as his work email: only Bob's is a work one.
      expect(await found('emails[type eq "work"].value eq "shared@example.net"')).toEqual([
        ids.bob,
      ]);
      expect(await found('emails[type eq "work" and value eq "SHARED@example.net"]')).toEqual([
        ids.bob,
      ]);
      expect(await found('emails[type eq "home" and value eq "shared@example.net"]')).toEqual([
        ids.ann,
      ]);
      expect(await found('emails.value eq "shared@example.net"')).toEqual([ids.ann, ids.bob]);
      expect(await found(`emails[type eq "work"].value eq "ann-${target}@example.com"`)).toEqual([
        ids.ann,
      ]);
      expect(await found(`emails[type eq "home"].value eq "ann-${target}@example.com"`)).toEqual(
        [],
      );
    });

    it('tests type, primary and other sub-attributes, with and, or, not and pr', async () => {
      expect(await found('emails[type eq "work" and primary eq true]')).toEqual([ids.ann, ids.bob]);
      expect(await found('emails[primary eq true].value eq "shared@example.net"')).toEqual([
        ids.bob,
      ]);
      expect(await found('emails[type eq "other"]')).toEqual([]);
      expect(await found('emails[primary pr]')).toEqual([ids.ann, ids.bob]);
      expect(await found('phoneNumbers[primary pr]')).toEqual([]);
      expect(await found('emails.type eq "home"')).toEqual([ids.ann, ids.bob]);
      expect(await found('phoneNumbers[type eq "mobile"]')).toEqual([ids.ann]);
      expect(await found('phoneNumbers.type eq "work"')).toEqual([ids.bob]);
      expect(await found('phoneNumbers[type eq "work" or value ew "01"]')).toEqual([
        ids.ann,
        ids.bob,
      ]);
      expect(await found('phoneNumbers[not (type eq "work")]')).toEqual([ids.ann]);
      expect(await found('addresses[locality eq "paris" and country eq "FR"]')).toEqual([ids.ann]);
      expect(await found('addresses[type eq "work"].locality sw "L"')).toEqual([ids.bob]);
      expect(await found('roles eq "auditor"')).toEqual([ids.ann]);
      expect(await found('roles pr')).toEqual([ids.ann]);
      expect(await found('roles[value pr] and displayName eq "Ann"')).toEqual([ids.ann]);
      expect(await found(`${USER}:emails[type eq "work"].value eq "shared@example.net"`)).toEqual([
        ids.bob,
      ]);
    });

    it('answers 400 invalidFilter, naming the problem, for what it cannot evaluate', async () => {
      for (const [filter, detail] of [
        ['emails[kind eq "work"]', 'Unknown attribute in filter: emails.kind'],
        ['emails[primary eq "maybe"]', 'emails.primary is a boolean'],
        ['emails[type eq "work"].nothing eq "x"', 'Unknown attribute in filter: emails.nothing'],
        ['groups[display eq "x"]', 'Filtering on groups.display is not supported'],
        ['emails[type eq "work"].value', 'Invalid filter'],
        ['groups.value co "1"', 'groups.value supports eq "<group id>" and pr'],
      ]) {
        const res = await scim.request('GET', `/Users?filter=${encodeURIComponent(filter)}`);
        expect(res.status).toBe(400);
        expect(res.body.scimType).toBe('invalidFilter');
        expect(res.body.detail).toContain(detail);
      }
    });

    it('finds users by the groups they are in, and groups by their members', async () => {
      expect(await found(`groups[value eq "${ids.group}"]`)).toEqual([ids.ann]);
      expect(await found(`groups.value eq "${ids.group}"`)).toEqual([ids.ann]);
      expect(await found('groups pr')).toEqual([ids.ann]);
      expect(await found('not (groups pr) and displayName eq "Bob"')).toEqual([ids.bob]);
      expect(await found('groups[value eq "999999"]')).toEqual([]);
      expect(await found('groups[value eq "not-an-id"]')).toEqual([]);
    });

    it('still finds groups by members[value eq "…"]', async () => {
      const res = await scim.request(
        'GET',
        `/Groups?filter=${encodeURIComponent(`members[value eq "${ids.ann}"]`)}`,
      );
      expect(res.body.Resources.map((g: { id: string }) => g.id)).toEqual([ids.group]);
    });
  });

  describe('POST /.search', () => {
    async function search(path: string, body: Record<string, unknown>) {
      return scim.request('POST', path, { schemas: [SEARCH], ...body });
    }

    it('searches every resource type at the root, with attributes (what scim2-client sends)', async () => {
      const res = await search('/.search', { attributes: ['externalId'] });
      expect(res.status).toBe(200);
      expect(res.body.schemas).toEqual(['urn:ietf:params:scim:api:messages:2.0:ListResponse']);
      expect(res.body.totalResults).toBe(3);
      expect(res.body.Resources).toEqual([
        { schemas: [USER], id: ids.ann, externalId: 'ext-ann' },
        { schemas: [USER], id: ids.bob },
        { schemas: [GROUP], id: ids.group, externalId: 'ext-group' },
      ]);
    });

    it('honours excludedAttributes, filter, startIndex and count across the types', async () => {
      const excluded = await search('/.search', { excludedAttributes: ['displayName', 'members'] });
      expect(excluded.status).toBe(200);
      for (const r of excluded.body.Resources) {
        expect(r).not.toHaveProperty('displayName');
        expect(r).not.toHaveProperty('members');
      }
      expect(excluded.body.Resources[0]).toHaveProperty('userName');
      // displayName is common to both types; userName is a User's only.
      const both = await search('/.search', {
        filter: 'displayName sw "Ann" or displayName sw "Interop"',
      });
      expect(both.body.Resources.map((r: { id: string }) => r.id)).toEqual([ids.ann, ids.group]);
      const users = await search('/.search', { filter: `userName eq "bob-${target}@example.com"` });
      expect(users.body.totalResults).toBe(1);
      expect(users.body.Resources[0].id).toBe(ids.bob);
      const page = await search('/.search', { startIndex: 2, count: 2, attributes: ['id'] });
      expect(page.body).toMatchObject({ totalResults: 3, startIndex: 2, itemsPerPage: 2 });
      expect(page.body.Resources.map((r: { id: string }) => r.id)).toEqual([ids.bob, ids.group]);
      const last = await search('/.search', { startIndex: 3, count: 5 });
      expect(last.body.Resources.map((r: { id: string }) => r.id)).toEqual([ids.group]);
      const none = await search('/.search', { count: 0 });
      expect(none.body).toMatchObject({ totalResults: 3, itemsPerPage: 0, Resources: [] });
    });

    it('searches one type at /Users/.search and /Groups/.search', async () => {
      const users = await search('/Users/.search', {
        filter: 'emails[type eq "work"].value eq "shared@example.net"',
        attributes: ['userName'],
      });
      expect(users.status).toBe(200);
      expect(users.body.Resources).toEqual([
        { schemas: [USER], id: ids.bob, userName: `bob-${target}@example.com` },
      ]);
      const groups = await search('/Groups/.search', { filter: 'externalId eq "ext-group"' });
      expect(groups.status).toBe(200);
      expect(groups.body.Resources.map((g: { id: string }) => g.id)).toEqual([ids.group]);
    });

    it('answers 400 to a malformed SearchRequest, saying what is wrong', async () => {
      const cases: [string, unknown, string, string][] = [
        ['/.search', { filter: 5 }, 'invalidValue', 'filter must be a string'],
        ['/.search', { count: 'many' }, 'invalidValue', 'count must be an integer'],
        ['/Users/.search', { startIndex: 1.5 }, 'invalidValue', 'startIndex must be an integer'],
        ['/Users/.search', { attributes: [1] }, 'invalidValue', 'attributes must be a list'],
        [
          '/.search',
          { attributes: ['id'], excludedAttributes: ['meta'] },
          'invalidValue',
          'cannot be used together',
        ],
        ['/Groups/.search', { sortOrder: 'up' }, 'invalidValue', 'sortOrder must be'],
        ['/.search', { filter: 'nothing eq "x"' }, 'invalidFilter', 'Unknown attribute'],
        ['/.search', { filter: 'userName eq' }, 'invalidFilter', 'Invalid filter'],
      ];
      for (const [path, body, scimType, detail] of cases) {
        const res = await search(path, body as Record<string, unknown>);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(res.body).toMatchObject({ schemas: [ERROR], status: '400', scimType });
        expect(res.body.detail).toContain(detail);
      }
      const wrongSchema = await scim.request('POST', '/.search', { schemas: [PATCH] });
      expect(wrongSchema.status).toBe(400);
      expect(wrongSchema.body.scimType).toBe('invalidSyntax');
      const notObject = await scim.request('POST', '/Users/.search', ['filter']);
      expect(notObject.status).toBe(400);
    });
  });

  describe('PATCH with the enterprise extension URN as path', () => {
    const get = async (id: string) => (await scim.request('GET', `/Users/${id}`)).body;
    const patch = (id: string, Operations: unknown[]) =>
      scim.request('PATCH', `/Users/${id}`, { schemas: [PATCH], Operations });

    it('adds (merging), replaces (exactly) and removes the whole extension', async () => {
      const id = await createUser({
        userName: `ext-${target}@example.com`,
        [ENTERPRISE]: { department: 'Sales', costCenter: 'C1' },
      });
      const added = await patch(id, [
        {
          op: 'add',
          path: ENTERPRISE,
          value: { employeeNumber: '42', manager: { value: ids.ann } },
        },
      ]);
      expect(added.status, added.text).toBe(204);
      expect((await get(id))[ENTERPRISE]).toEqual({
        department: 'Sales',
        costCenter: 'C1',
        employeeNumber: '42',
        manager: { value: ids.ann },
      });
      const replaced = await patch(id, [
        { op: 'replace', path: ENTERPRISE, value: { division: 'North' } },
      ]);
      expect(replaced.status, replaced.text).toBe(204);
      expect((await get(id))[ENTERPRISE]).toEqual({ division: 'North' });
      const removed = await patch(id, [{ op: 'remove', path: ENTERPRISE }]);
      expect(removed.status, removed.text).toBe(204);
      const after = await get(id);
      expect(after).not.toHaveProperty(ENTERPRISE);
      expect(after.schemas).toEqual([USER]);
      // The URN is case-insensitive, like every attribute name.
      const lower = await patch(id, [
        { op: 'add', path: ENTERPRISE.toLowerCase(), value: { department: 'Ops' } },
      ]);
      expect(lower.status).toBe(204);
      expect((await get(id))[ENTERPRISE]).toEqual({ department: 'Ops' });
    });

    it('answers 400 invalidValue when the extension value is not an object', async () => {
      const res = await patch(ids.bob, [{ op: 'add', path: ENTERPRISE, value: 'Sales' }]);
      expect(res.status).toBe(400);
      expect(res.body.scimType).toBe('invalidValue');
      expect(res.body.detail).toContain(`The value of ${ENTERPRISE} must be an object`);
    });
  });

  describe('removing active', () => {
    it('leaves active unassigned (RFC 7644 §3.5.2.2): the user is active and the resource shows no active', async () => {
      const id = await createUser({ userName: `gone-${target}@example.com`, active: false });
      expect(await found(`userName eq "gone-${target}@example.com" and active eq false`)).toEqual([
        id,
      ]);
      const res = await scim.request('PATCH', `/Users/${id}?attributes=active,userName`, {
        schemas: [PATCH],
        Operations: [{ op: 'remove', path: 'active' }],
      });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ schemas: [USER], id, userName: `gone-${target}@example.com` });
      expect((await scim.request('GET', `/Users/${id}`)).body).not.toHaveProperty('active');
      // Roster's default for a user without active: active (as when created without it).
      expect(await found(`userName eq "gone-${target}@example.com" and active eq true`)).toEqual([
        id,
      ]);
      expect(await found(`userName eq "gone-${target}@example.com" and active pr`)).toEqual([]);
      if (target === 'end_users') {
        expect((await roster.get(`/api/end_users/${id}`)).body.data.status).toBe('active');
      }
      // Other PATCHes leave it unassigned; setting it assigns it again.
      await scim.request('PATCH', `/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', path: 'displayName', value: 'Gone' }],
      });
      expect((await scim.request('GET', `/Users/${id}`)).body).not.toHaveProperty('active');
      const set = await scim.request('PATCH', `/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', value: { active: false } }],
      });
      expect(set.status).toBe(204);
      expect((await scim.request('GET', `/Users/${id}`)).body.active).toBe(false);
      // replace with null is a removal too.
      await scim.request('PATCH', `/Users/${id}`, {
        schemas: [PATCH],
        Operations: [{ op: 'replace', path: 'active', value: null }],
      });
      expect((await scim.request('GET', `/Users/${id}`)).body).not.toHaveProperty('active');
      // A user created or replaced without active shows the default, active: true.
      const put = await scim.request('PUT', `/Users/${id}`, {
        schemas: [USER],
        userName: `gone-${target}@example.com`,
      });
      expect(put.body.active).toBe(true);
    });
  });
});
