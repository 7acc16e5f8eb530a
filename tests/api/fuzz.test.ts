/**
 * A fuzzer driven by the server's own OpenAPI document: every operation it lists gets malformed
 * path parameters, query parameters and bodies (wrong types, huge, negative, fractional and
 * non-finite numbers, over-long strings, NUL, deep nesting, invalid JSON, wrong content types,
 * unknown enum values, missing fields, arrays for objects, huge arrays), and so do the SCIM
 * endpoints, which the document does not list. Bad input must get a 4xx: no response may be a
 * 5xx, and the server must still answer, with its data, afterwards.
 *
 * Deterministic: the cases are enumerated, and a seeded generator picks which ones run when an
 * operation has more than its share. ROSTER_FUZZ_SEED replays another selection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PLATFORM_TOKEN,
  createMember,
  startRoster,
  type ApiResponse,
  type Roster,
} from '../helpers/roster.js';
import { createConnection, type ScimConnection } from '../scim/helpers.js';

const SEED = Number(process.env.ROSTER_FUZZ_SEED ?? 20261205);
/**
 * How many requests run: the enumerated cases (about 12,500) sampled down so that a run stays well
 * under a minute per dialect on a shared machine; ROSTER_FUZZ_REQUESTS=all sends every one.
 */
const BUDGET =
  process.env.ROSTER_FUZZ_REQUESTS === 'all'
    ? Number.POSITIVE_INFINITY
    : Number(process.env.ROSTER_FUZZ_REQUESTS ?? 6000);
/** At most this many body cases per operation (an operation with many fields has far more). */
const BODY_CASES_PER_OPERATION = 80;
const CONCURRENCY = 6;
/** An ID that exists nowhere, for requests that would really delete or rotate something. */
const MISSING_ID = '999999';

/** mulberry32: small, seedable, good enough to pick cases. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Schema {
  type?: string | string[];
  properties?: Record<string, Schema>;
  additionalProperties?: boolean | Schema;
  patternProperties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  minimum?: number;
  maxLength?: number;
  minLength?: number;
  minItems?: number;
  pattern?: string;
}

interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  schema: Schema;
}

interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}

interface Case {
  /** Whole-body, header and SCIM filter cases always run; the others are sampled to the budget. */
  essential?: boolean;
  method: string;
  path: string;
  body?: string;
  headers?: Record<string, string>;
  token: string | null;
  label: string;
}

const deep = (levels: number, open: string, close: string, inner = '1') =>
  open.repeat(levels) + inner + close.repeat(levels);
const DEEP_ARRAY = deep(10_000, '[', ']');
const DEEP_OBJECT = deep(10_000, '{"a":', '}');

/** Numbers that are not what an integer column can take, written as JSON text. */
const BAD_NUMBERS_JSON = [
  '1e400',
  '-1e400',
  '1e21',
  '1e308',
  '-1',
  '0',
  '1.5',
  '2147483648',
  '9007199254740993',
  '9223372036854775808',
  '-9223372036854775809',
  '9'.repeat(400),
  '1E+2',
];
/** The same, and worse, as query or path text. */
const BAD_NUMBERS_TEXT = [
  ...BAD_NUMBERS_JSON,
  'Infinity',
  '-Infinity',
  'NaN',
  '0x10',
  ' 1',
  '1 ',
  'abc',
  '',
  '%00',
  '1%00',
  'true',
];
const BAD_STRINGS_TEXT = [
  'x'.repeat(10_000),
  '%00',
  'a%00b',
  '%FF%FE',
  '%C0%AF',
  '',
  ' ',
  "'; drop table members; --",
  '%F0%9F%98%80'.repeat(500),
];
/** JSON values put where a field is expected, whatever its type. */
const BAD_VALUES_JSON = [
  ...BAD_NUMBERS_JSON,
  'true',
  'null',
  '""',
  `"${'x'.repeat(100_000)}"`,
  '"a\\u0000b"',
  '"\\ud800"',
  '[]',
  '{}',
  '[1,2,3]',
  '{"__proto__":{"polluted":1}}',
  `[${Array.from({ length: 20_000 }, (_, i) => i + 1).join(',')}]`,
  `[${Array.from({ length: 2_000 }, () => '"x"').join(',')}]`,
  deep(300, '[', ']'),
  deep(300, '{"a":', '}'),
  DEEP_ARRAY,
];

/** Valid date-time text that is still hard to store or compute with. */
const EDGE_DATE_TIMES = [
  '2016-12-31T23:59:60Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '1969-12-31T23:59:59.999999999Z',
  '2026-01-01T00:00:00+23:59',
  '2026-01-01t00:00:00z',
];

/** Malformed credentials and headers; one per operation, picked by the seeded generator. */
const BAD_HEADERS: Record<string, string>[] = [
  { authorization: `Bearer ${'x'.repeat(10_000)}` },
  { authorization: 'Bearer rst_\u00e9\u00e9' },
  { authorization: 'Basic Zm9vOmJhcg==' },
  { authorization: 'Bearer' },
  { cookie: `roster_session=${'x'.repeat(4000)}` },
  { cookie: 'roster_session=%00%FF; roster_csrf=%zz', 'x-csrf-token': '%zz' },
  { cookie: 'roster_session=a; roster_session=b' },
  { 'if-match': `W/"${'9'.repeat(400)}"` },
  { accept: 'application/xml' },
  { 'x-forwarded-for': 'not an address, ::1, 999.999.999.999' },
];

function typesOf(schema: Schema): string[] {
  if (schema.anyOf !== undefined) return schema.anyOf.flatMap(typesOf);
  if (schema.oneOf !== undefined) return schema.oneOf.flatMap(typesOf);
  if (schema.allOf !== undefined) return schema.allOf.flatMap(typesOf);
  if (Array.isArray(schema.type)) return schema.type;
  return schema.type === undefined ? [] : [schema.type];
}

function mainBranch(schema: Schema): Schema {
  const branches = schema.anyOf ?? schema.oneOf;
  if (branches === undefined) return schema;
  return mainBranch(branches.find((b) => b.type !== 'null') ?? branches[0] ?? {});
}

/** A plausible value for a schema, so that one malformed field is the only thing wrong. */
function sample(input: Schema, depth = 0): unknown {
  const schema = mainBranch(input);
  if (schema.allOf !== undefined) {
    return Object.assign({}, ...schema.allOf.map((s) => sample(s, depth + 1)));
  }
  if (schema.const !== undefined) return schema.const;
  if (schema.enum !== undefined) return schema.enum[0];
  switch (typesOf(schema)[0]) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(schema.properties ?? {})) {
        if (depth < 6) out[key] = sample(value, depth + 1);
      }
      return out;
    }
    case 'array':
      return schema.items === undefined || depth >= 6 ? [] : [sample(schema.items, depth + 1)];
    case 'integer':
    case 'number':
      return Math.max(schema.minimum ?? 1, 1);
    case 'boolean':
      return false;
    case 'null':
      return null;
    case 'string':
      if (schema.format === 'email') return 'fuzz@example.com';
      if (schema.format === 'date-time') return '2026-01-01T00:00:00Z';
      if (schema.format === 'uri') return 'https://example.com/';
      return 'fuzz'.slice(0, schema.maxLength ?? 4).padEnd(schema.minLength ?? 0, 'z');
    default:
      return 'fuzz';
  }
}

/** Every field path in a body schema (objects and arrays walked), with its schema. */
function fieldPaths(
  input: Schema,
  prefix: (string | number)[] = [],
): [(string | number)[], Schema][] {
  const schema = mainBranch(input);
  const out: [(string | number)[], Schema][] = [];
  if (prefix.length > 0) out.push([prefix, schema]);
  if (prefix.length >= 5) return out;
  for (const [key, value] of Object.entries(schema.properties ?? {})) {
    out.push(...fieldPaths(value, [...prefix, key]));
  }
  if (schema.items !== undefined) out.push(...fieldPaths(schema.items, [...prefix, 0]));
  return out;
}

/** The sample's JSON text with the value at `at` replaced by raw JSON text (which may be invalid). */
function replaceAt(value: unknown, at: (string | number)[], raw: string): string {
  const marker = '"__fuzz_marker__"';
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let cursor: Record<string | number, unknown> = copy;
  for (const [index, key] of at.entries()) {
    if (index === at.length - 1) {
      cursor[key] = '__fuzz_marker__';
    } else {
      const next = cursor[key];
      if (typeof next !== 'object' || next === null) {
        cursor[key] = typeof at[index + 1] === 'number' ? [] : {};
      }
      cursor = cursor[key] as Record<string | number, unknown>;
    }
  }
  return JSON.stringify(copy).replace(marker, raw);
}

function withoutKey(value: unknown, key: string): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter(([name]) => name !== key),
  );
}

function shuffledPrefix<T>(items: T[], count: number, random: () => number): T[] {
  if (items.length <= count) return items;
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy.slice(0, count);
}

interface Fixture {
  /** A real ID for each kind of path, so that body and query cases reach the handler. */
  pathValues: Record<string, string>;
  adminToken: string;
}

function pathValueFor(path: string, name: string, fixture: Fixture): string {
  const key = `${path.split('/{')[0] ?? ''}:${name}`;
  return fixture.pathValues[key] ?? fixture.pathValues[name] ?? '1';
}

function fillPath(path: string, fixture: Fixture, override?: [string, string]): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) =>
    override?.[0] === name
      ? // Values with % are already encoded on purpose (NUL, invalid UTF-8); the rest are encoded
        // so that "1 " stays "1%20" instead of losing its space to URL parsing.
        override[1].includes('%')
        ? override[1]
        : encodeURIComponent(override[1])
      : encodeURIComponent(pathValueFor(path, name, fixture)),
  );
}

function queryValues(schema: Schema): string[] {
  const types = typesOf(schema);
  const items = schema.items === undefined ? undefined : mainBranch(schema.items);
  const values = [...BAD_STRINGS_TEXT.slice(0, 3)];
  if (types.includes('integer') || types.includes('number')) values.push(...BAD_NUMBERS_TEXT);
  if (
    items !== undefined &&
    (typesOf(items).includes('integer') || typesOf(items).includes('number'))
  )
    values.push(...BAD_NUMBERS_TEXT, '1,2', '1,1e400');
  if (types.includes('boolean')) values.push('maybe', '2', 'TRUE ', '');
  if (mainBranch(schema).format === 'date-time') values.push(...EDGE_DATE_TIMES);
  if (types.includes('string') || schema.enum !== undefined || schema.anyOf !== undefined)
    values.push(...BAD_STRINGS_TEXT, 'bogus_enum_value', '99999-99-99T99:99:99Z', '2026-02-30');
  return [...new Set(values)];
}

function casesFor(
  method: string,
  path: string,
  operation: Operation,
  fixture: Fixture,
  random: () => number,
): Case[] {
  const token = path.startsWith('/platform/') ? PLATFORM_TOKEN : fixture.adminToken;
  const upper = method.toUpperCase();
  const cases: Case[] = [];
  const parameters = operation.parameters ?? [];
  const bodySchema = operation.requestBody?.content['application/json']?.schema;
  const baseBody = bodySchema === undefined ? undefined : sample(bodySchema);
  const baseText = baseBody === undefined ? undefined : JSON.stringify(baseBody);
  const jsonHeaders = { 'content-type': 'application/json' };
  const add = (
    label: string,
    requestPath: string,
    body?: string,
    headers?: Record<string, string>,
  ) =>
    cases.push({
      method: upper,
      path: requestPath,
      body,
      headers: body === undefined ? headers : { ...jsonHeaders, ...headers },
      token,
      label: `${upper} ${path} ${label}`,
    });

  // Path parameters.
  for (const parameter of parameters.filter((p) => p.in === 'path')) {
    for (const value of [...BAD_NUMBERS_TEXT, ...BAD_STRINGS_TEXT, '..', '%2e%2e%2f', '-']) {
      if (value === '') continue; // an empty segment is another route
      add(
        `path ${parameter.name}=${value.slice(0, 20)}`,
        fillPath(path, fixture, [parameter.name, value]),
        baseText,
      );
    }
  }
  // Query parameters, one at a time and all at once. A DELETE without a body whose unknown query
  // parameter is dropped would really delete: it gets an ID that does not exist.
  const destructive = upper === 'DELETE' && bodySchema === undefined;
  const base = destructive ? path.replace(/\{[^}]+\}/g, MISSING_ID) : fillPath(path, fixture);
  const queryParameters = parameters.filter((p) => p.in === 'query');
  for (const parameter of queryParameters) {
    const name = encodeURIComponent(parameter.name);
    for (const value of queryValues(parameter.schema)) {
      add(`query ${parameter.name}=${value.slice(0, 20)}`, `${base}?${name}=${value}`, baseText);
    }
    add(`query ${parameter.name} repeated`, `${base}?${name}=1&${name}=1e400&${name}=x`, baseText);
    add(`query ${parameter.name}[] nested`, `${base}?${name}[a][b]=1`, baseText);
  }
  if (queryParameters.length > 0) {
    const all = queryParameters.map((p) => `${encodeURIComponent(p.name)}=1e400`).join('&');
    add('query all=1e400', `${base}?${all}`, baseText);
  }
  add('query unknown', `${base}?unknown_parameter=${'x'.repeat(5000)}`, baseText);
  const header = BAD_HEADERS[Math.floor(random() * BAD_HEADERS.length)] ?? {};
  cases.push({
    method: upper,
    path: base,
    body: baseText,
    headers: baseText === undefined ? header : { ...jsonHeaders, ...header },
    token: null,
    essential: true,
    label: `${upper} ${path} header ${JSON.stringify(header).slice(0, 40)}`,
  });

  if (bodySchema !== undefined) {
    // Whole bodies.
    const wholeBodies: [string, string, Record<string, string>?][] = [
      ['invalid json', '{"a":'],
      ['truncated sample', (baseText ?? '{}').slice(0, -1)],
      ['empty', ''],
      ['null', 'null'],
      ['number', '1e400'],
      ['string', '"text"'],
      ['array', '[]'],
      ['array of sample', `[${baseText ?? '{}'}]`],
      ['empty object', '{}'],
      ['deep array', DEEP_ARRAY],
      ['deep object', DEEP_OBJECT],
      ['deep 500', deep(500, '{"a":', '}')],
      ['huge array', `[${'1,'.repeat(200_000)}1]`],
      ['NUL in key', '{"a\\u0000":1}'],
      ['proto', '{"__proto__":{"admin":true},"constructor":{"prototype":{"x":1}}}'],
      ['text/plain', baseText ?? '{}', { 'content-type': 'text/plain' }],
      ['form', 'a=1&b=2', { 'content-type': 'application/x-www-form-urlencoded' }],
      ['xml', '<a/>', { 'content-type': 'application/xml' }],
      ['bad charset', baseText ?? '{}', { 'content-type': 'application/json; charset=utf-7' }],
      ['multipart', '--x\r\n\r\n--x--', { 'content-type': 'multipart/form-data; boundary=x' }],
      ['no content type', baseText ?? '{}', { 'content-type': '' }],
      ['invalid utf-8', '{"name":"\udc00"}'],
    ];
    for (const [label, body, headers] of wholeBodies) {
      add(`body ${label}`, base, body, headers);
      (cases.at(-1) as Case).essential = true;
    }

    // One field at a time.
    const fieldCases: [string, string][] = [];
    for (const [at, schema] of fieldPaths(bodySchema)) {
      const name = at.join('.');
      for (const raw of BAD_VALUES_JSON)
        fieldCases.push([`${name}=${raw.slice(0, 20)}`, replaceAt(baseBody, at, raw)]);
      if (schema.format === 'date-time') {
        for (const time of EDGE_DATE_TIMES)
          fieldCases.push([`${name}=${time}`, replaceAt(baseBody, at, JSON.stringify(time))]);
      }
      if (schema.enum !== undefined || schema.anyOf !== undefined || schema.type === 'string') {
        fieldCases.push([`${name}=bogus`, replaceAt(baseBody, at, '"bogus_enum_value"')]);
      }
      if (at.length === 1 && typeof at[0] === 'string') {
        fieldCases.push([`without ${name}`, JSON.stringify(withoutKey(baseBody, at[0]))]);
      }
    }
    for (const [label, body] of shuffledPrefix(fieldCases, BODY_CASES_PER_OPERATION, random)) {
      add(`body ${label}`, base, body);
    }
  }
  return cases;
}

function scimCases(connection: ScimConnection, userId: string, groupId: string): Case[] {
  const base = `/scim/v2/${connection.id}`;
  const token = connection.token;
  const scimJson = { 'content-type': 'application/scim+json' };
  const cases: Case[] = [];
  const add = (
    method: string,
    path: string,
    label: string,
    body?: string,
    headers?: Record<string, string>,
  ) =>
    cases.push({
      method,
      path: `${base}${path}`,
      body,
      headers: body === undefined ? headers : { ...scimJson, ...headers },
      token,
      label: `SCIM ${method} ${path.slice(0, 60)} ${label}`,
    });
  const filters = [
    'id eq 1.5',
    'id gt 1.5',
    'id eq 1e400',
    'id eq -1',
    `id eq ${'9'.repeat(400)}`,
    'id eq 9223372036854775808',
    'id lt "x"',
    'id co 1',
    'id pr',
    'id eq true',
    'id eq null',
    'userName eq 1.5',
    'userName eq "a\u0000b"',
    'active eq 1e400',
    'meta.created gt "99999-01-01"',
    'meta.created gt "1e400"',
    'meta.lastModified lt 1.5',
    'members eq 1.5',
    'members.value eq "9999999999999999999"',
    'displayName eq "x" and (',
    '(((((((((((((((((((((((((((((((((((((((((((((((((id pr)))))))))))))))))))))))))))))))))))))))))))))))))',
    '('.repeat(5000),
    `${'not ('.repeat(2000)}id pr${')'.repeat(2000)}`,
    Array.from({ length: 3000 }, () => 'id pr').join(' and '),
    'emails[type eq "work" and value co 1.5]',
    'emails[emails[value pr]]',
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq 1',
    'x'.repeat(20_000),
    '',
  ];
  for (const resource of ['/Users', '/Groups']) {
    for (const filter of filters) {
      add(
        'GET',
        `${resource}?filter=${encodeURIComponent(filter)}`,
        `filter ${filter.slice(0, 30)}`,
      );
      (cases.at(-1) as Case).essential = true;
    }
    for (const value of BAD_NUMBERS_TEXT) {
      add('GET', `${resource}?startIndex=${value}`, `startIndex=${value.slice(0, 20)}`);
      add('GET', `${resource}?count=${value}`, `count=${value.slice(0, 20)}`);
    }
    for (const value of BAD_VALUES_JSON) {
      add(
        'POST',
        `${resource}/.search`,
        `search count=${value.slice(0, 20)}`,
        `{"count":${value}}`,
      );
      add(
        'POST',
        `${resource}/.search`,
        `search startIndex=${value.slice(0, 20)}`,
        `{"startIndex":${value}}`,
      );
      add(
        'POST',
        `${resource}/.search`,
        `search filter=${value.slice(0, 20)}`,
        `{"filter":${value}}`,
      );
    }
    for (const id of [...BAD_NUMBERS_TEXT, ...BAD_STRINGS_TEXT]) {
      if (id === '') continue;
      add('GET', `${resource}/${id}`, `id=${id.slice(0, 20)}`);
      add('DELETE', `${resource}/${id}`, `delete id=${id.slice(0, 20)}`);
      add(
        'PATCH',
        `${resource}/${id}`,
        `patch id=${id.slice(0, 20)}`,
        '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[]}',
      );
    }
  }
  const userBody = (field: string, raw: string) =>
    `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"fz${raw.length}@example.com",${field}:${raw}}`;
  for (const field of [
    '"userName"',
    '"active"',
    '"name"',
    '"emails"',
    '"externalId"',
    '"groups"',
    '"displayName"',
    '"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"',
  ]) {
    for (const raw of BAD_VALUES_JSON) {
      add('POST', '/Users', `create ${field}=${raw.slice(0, 20)}`, userBody(field, raw));
      add('PUT', `/Users/${userId}`, `replace ${field}=${raw.slice(0, 20)}`, userBody(field, raw));
    }
  }
  const groupBody = (field: string, raw: string) => `{"displayName":"fuzz group",${field}:${raw}}`;
  for (const field of ['"displayName"', '"members"', '"externalId"']) {
    for (const raw of BAD_VALUES_JSON) {
      add('POST', '/Groups', `create ${field}=${raw.slice(0, 20)}`, groupBody(field, raw));
      add(
        'PUT',
        `/Groups/${groupId}`,
        `replace ${field}=${raw.slice(0, 20)}`,
        groupBody(field, raw),
      );
    }
  }
  const patch = (operation: string) =>
    `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[${operation}]}`;
  for (const raw of BAD_VALUES_JSON) {
    for (const [resource, id] of [
      ['/Users', userId],
      ['/Groups', groupId],
    ] as const) {
      add(
        'PATCH',
        `${resource}/${id}`,
        `patch value=${raw.slice(0, 20)}`,
        patch(`{"op":"replace","value":${raw}}`),
      );
      add(
        'PATCH',
        `${resource}/${id}`,
        `patch op=${raw.slice(0, 20)}`,
        patch(`{"op":${raw},"path":"active","value":true}`),
      );
      add(
        'PATCH',
        `${resource}/${id}`,
        `patch path=${raw.slice(0, 20)}`,
        patch(`{"op":"add","path":${raw},"value":"x"}`),
      );
      add(
        'PATCH',
        `${resource}/${id}`,
        `patch members=${raw.slice(0, 20)}`,
        patch(`{"op":"add","path":"members","value":[{"value":${raw}}]}`),
      );
      add(
        'PATCH',
        `${resource}/${id}`,
        `patch Operations=${raw.slice(0, 20)}`,
        `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":${raw}}`,
      );
    }
  }
  for (const path of [
    'members[value eq 1.5]',
    'members[value eq "1e400"]',
    'emails[type eq 1.5].value',
    'members[',
    'x'.repeat(5000),
  ]) {
    add(
      'PATCH',
      `/Groups/${groupId}`,
      `patch path ${path.slice(0, 20)}`,
      patch(`{"op":"remove","path":${JSON.stringify(path)}}`),
    );
    add(
      'PATCH',
      `/Users/${userId}`,
      `patch path ${path.slice(0, 20)}`,
      patch(`{"op":"remove","path":${JSON.stringify(path)}}`),
    );
  }
  for (const [label, body, headers] of [
    ['invalid json', '{"a":', undefined],
    ['deep array', DEEP_ARRAY, undefined],
    ['deep object', DEEP_OBJECT, undefined],
    ['plain json', '{}', { 'content-type': 'application/json' }],
    ['text', 'x', { 'content-type': 'text/plain' }],
  ] as const) {
    for (const [method, path] of [
      ['POST', '/Users'],
      ['POST', '/Groups'],
      ['PUT', `/Users/${userId}`],
      ['PATCH', `/Groups/${groupId}`],
      ['POST', '/Users/.search'],
    ]) {
      add(method as string, path as string, `body ${label}`, body, headers);
    }
  }
  add('GET', '/Users', 'If-Match', undefined, { 'if-match': 'W/"1e400"' });
  add('DELETE', `/Users/${userId}`, 'If-Match huge', undefined, {
    'if-match': `W/"${'9'.repeat(400)}"`,
  });
  add('PUT', `/Users/${userId}`, 'If-Match 1.5', userBody('"active"', 'true'), {
    'if-match': 'W/"1.5"',
  });
  // Unauthenticated and on a connection that does not exist.
  cases.push({ method: 'GET', path: `${base}/Users`, token: null, label: 'SCIM no token' });
  cases.push({
    method: 'GET',
    path: `/scim/v2/${'9'.repeat(400)}/Users`,
    token,
    label: 'SCIM bad connection',
  });
  cases.push({ method: 'GET', path: `/scim/v2/%00/Users`, token, label: 'SCIM NUL connection' });
  return cases;
}

describe('fuzzing every operation of the OpenAPI document', () => {
  let roster: Roster;
  let fixture: Fixture;
  const scim: { connection: ScimConnection; userId: string; groupId: string }[] = [];
  const created: Record<string, unknown> = {};

  beforeAll(async () => {
    // Private webhook URLs allowed: the fuzzer's webhook points at a closed loopback port.
    roster = await startRoster({ env: { ROSTER_WEBHOOK_ALLOW_PRIVATE: 'true' } });
    const member = await createMember(roster, { email: 'fuzz-member@example.com' });
    const ok = (response: ApiResponse, what: string) => {
      if (response.status >= 300) throw new Error(`${what}: ${response.status} ${response.text}`);
      return response;
    };
    const group = ok(
      await roster.post('/api/user_groups', { user_group: { name: 'Fuzzers' } }),
      'group',
    ).body;
    const project = ok(
      await roster.post('/api/projects', { name: 'Fuzz project', environment_type: 'dev' }),
      'project',
    ).body;
    const endUser = ok(
      await roster.post('/api/end_users', {
        email: 'fuzz-end-user@example.com',
        name: 'Fuzz',
        environment_types: ['dev'],
      }),
      'end user',
    ).body;
    const endUserGroup = ok(
      await roster.post('/api/end_user_groups', {
        name: 'Fuzz group',
        environment_type: 'dev',
        end_user_ids: [(endUser as { data: { id: number } }).data.id],
      }),
      'end-user group',
    ).body;
    const feature = ok(
      await roster.post('/api/features', {
        name: 'fuzz-feature',
        environment_type: 'dev',
        kind: 'assistant',
      }),
      'feature',
    ).body;
    // The newer resources (issues 12 and 13), so that their body and query cases reach the
    // handler with a real ID: an MCP server feature with an upstream, an agent, a webhook and a
    // pending approval request.
    const endUserId = (endUser as { data: { id: number } }).data.id;
    const mcpFeature = ok(
      await roster.post('/api/features', {
        name: 'fuzz-mcp',
        environment_type: 'dev',
        kind: 'mcp_server',
        upstream: { url: 'http://127.0.0.1:9/mcp', headers: { Authorization: 'Bearer fuzz' } },
      }),
      'MCP feature',
    ).body as { data: { id: number } };
    ok(
      await roster.post(`/api/features/${mcpFeature.data.id}/access`, {
        end_user_ids: [endUserId],
      }),
      'feature access',
    );
    const agent = ok(
      await roster.post('/api/agents', {
        name: 'Fuzz agent',
        environment_type: 'dev',
        end_user_id: endUserId,
        feature_ids: [mcpFeature.data.id],
      }),
      'agent',
    ).body;
    const webhook = ok(
      await roster.post('/api/webhooks', { url: 'http://127.0.0.1:9/hook', events: ['*'] }),
      'webhook',
    ).body;
    ok(
      await roster.post('/api/policies', {
        name: 'Fuzz approval',
        environment_type: 'dev',
        feature_id: mcpFeature.data.id,
        scope: { type: 'all' },
        effect: 'require_approval',
      }),
      'policy',
    );
    const asked = ok(
      await roster.post('/api/end_users/decisions', {
        environment_type: 'dev',
        end_user_id: endUserId,
        feature_id: mcpFeature.data.id,
        tool: 'deploy',
      }),
      'approval request',
    ).body as { data: { approval_request_id: number } };
    Object.assign(created, { member, group, project, endUser, endUserGroup, feature });
    const idOf = (value: unknown): string => {
      const found = JSON.stringify(value).match(/"id":("?[A-Za-z0-9_-]+"?)/);
      return found?.[1]?.replace(/"/g, '') ?? '1';
    };
    fixture = {
      adminToken: roster.adminToken,
      pathValues: {
        '/api/members:id': String(member.id),
        '/api/user_groups:id': idOf(group),
        '/api/projects:id': idOf(project),
        '/api/end_users:id': idOf(endUser),
        '/api/end_user_groups:id': idOf(endUserGroup),
        '/api/features:id': idOf(feature),
        '/api/agents:id': idOf(agent),
        '/api/webhooks:id': idOf(webhook),
        '/api/approval_requests:id': String(asked.data.approval_request_id),
        // Never the admin's own client: a stray rotate or revoke would lock the fuzzer out.
        '/api/api_clients:id': MISSING_ID,
      },
    };
    for (const target of ['end_users', 'collaborators'] as const) {
      const connection = await createConnection(roster, 'test', target);
      const headers = { 'content-type': 'application/scim+json' };
      const user = await roster.request('POST', `/scim/v2/${connection.id}/Users`, {
        token: connection.token,
        headers,
        body: { userName: `scim-${target}@example.com`, name: { givenName: 'S', familyName: 'C' } },
      });
      const groupResponse = await roster.request('POST', `/scim/v2/${connection.id}/Groups`, {
        token: connection.token,
        headers,
        body: { displayName: `SCIM ${target}`, members: [{ value: user.body.id }] },
      });
      ok(user, 'scim user');
      ok(groupResponse, 'scim group');
      scim.push({ connection, userId: user.body.id, groupId: groupResponse.body.id });
    }
  });
  afterAll(async () => {
    await roster.close();
  });

  it('answers every malformed request with a 4xx, never a 5xx, and keeps serving', async () => {
    const document = (await roster.get('/api/openapi.json')).body as {
      paths: Record<string, Record<string, Operation>>;
    };
    const random = generator(SEED);
    const cases: Case[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        cases.push(...casesFor(method, path, operation, fixture, random));
      }
    }
    for (const { connection, userId, groupId } of scim)
      cases.push(...scimCases(connection, userId, groupId));
    const essential = cases.filter((c) => c.essential === true);
    const others = cases.filter((c) => c.essential !== true);
    const sampled = [
      ...essential,
      ...shuffledPrefix(others, Math.max(0, BUDGET - essential.length), random),
    ];

    const failures: string[] = [];
    let next = 0;
    let sent = 0;
    const worker = async () => {
      while (next < sampled.length) {
        const c = sampled[next] as Case;
        next += 1;
        const response = await roster.request(c.method, c.path, {
          body: c.body,
          token: c.token,
          headers: c.headers,
        });
        sent += 1;
        if (response.status >= 500)
          failures.push(`${response.status} ${c.label}: ${response.text.slice(0, 200)}`);
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    console.log(
      `fuzz: ${sent} of ${cases.length} cases in ${((Date.now() - started) / 1000).toFixed(1)} s, ${failures.length} answered 5xx (seed ${SEED})`,
    );
    if (failures.length > 0) console.log(failures.join('\n'));
    expect(sent).toBe(sampled.length);
    expect(sent).toBeGreaterThanOrEqual(Math.min(BUDGET, 10_000));
    expect(failures).toEqual([]);

    // Still up, and nothing lost: the fixtures are all there.
    expect((await roster.get('/healthz')).status).toBe(200);
    const members = await roster.get(
      `/api/members/${String((created.member as { id: number }).id)}`,
    );
    expect(members.status).toBe(200);
    for (const [path, id] of Object.entries(fixture.pathValues)) {
      if (id === MISSING_ID) continue;
      const resource = path.split(':')[0] ?? '';
      expect((await roster.get(`${resource}/${id}`)).status, resource).toBe(200);
    }
    for (const { connection, userId, groupId } of scim) {
      const headers = { 'content-type': 'application/scim+json' };
      const user = await roster.request('GET', `/scim/v2/${connection.id}/Users/${userId}`, {
        token: connection.token,
        headers,
      });
      expect(user.status).toBe(200);
      const group = await roster.request('GET', `/scim/v2/${connection.id}/Groups/${groupId}`, {
        token: connection.token,
        headers,
      });
      expect(group.status).toBe(200);
    }
  }, 240_000);
});
