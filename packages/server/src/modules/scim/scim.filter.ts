/**
 * SCIM filters (RFC 7644 §3.4.2.2): parsed by scim2-parse-filter into an expression tree, then
 * compiled to SQL through an attribute map (never by splitting strings). Every operator, `and`,
 * `or`, `not`, grouping and value paths (`emails[value co "x"]`, `members[value eq "id"]`) are
 * supported on the mapped attributes; anything else is a 400 `invalidFilter`.
 *
 * Entra sends values without quotes (`userName sw O`, `name.familyName eq Employee`,
 * `meta.created gt 2015-10-10T14:38:21-07:00`) and booleans as `True`: a token-level pass quotes
 * such bare words after a comparison operator before the parser sees them.
 */
import { sql, type RawBuilder } from 'kysely';
import filterLibrary, { type Filter } from 'scim2-parse-filter';
import filterParser from 'scim2-parse-filter/lib/src/parser.js';
import { ID_MAX } from '@roster/contracts';
import type { Dialect } from '../../storage/database.js';
import { scimBadRequest } from './scim.errors.js';
import {
  canonicalPath,
  ENTERPRISE_SCHEMA,
  resolveAttributePath,
  type AttributeDef,
  type ResolvedPath,
  type ResourceKind,
} from './scim.schema.js';

const COMPARISON_OPERATORS = new Set(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'lt', 'ge', 'le']);
const MAX_FILTER_LENGTH = 4096;

/** Parses a filter, accepting Entra's unquoted values; a syntax error is a 400 invalidFilter. */
export function parseScimFilter(text: string): Filter {
  if (text.length > MAX_FILTER_LENGTH)
    throw scimBadRequest(
      'invalidFilter',
      `The filter is longer than ${MAX_FILTER_LENGTH} characters`,
    );
  try {
    const tokens = filterParser.tokenizer(text).map((token, index, all) => {
      const previous = all[index - 1];
      if (token.type !== 'Word' || previous === undefined || previous.type !== 'Word') return token;
      if (!COMPARISON_OPERATORS.has(previous.literal.toLowerCase())) return token;
      const lower = token.literal.toLowerCase();
      if (lower === 'true' || lower === 'false' || lower === 'null')
        return { type: 'Word' as const, literal: lower };
      return { type: 'Quoted' as const, literal: JSON.stringify(token.literal) };
    });
    const list = new filterParser.Tokens(foldSubAttributesIntoValuePaths(tokens));
    const filter = filterParser.parseFilter(list);
    if (list.peek().type !== 'EOT') throw new Error(`unexpected ${list.peek().literal}`);
    return filter;
  } catch (error) {
    throw scimBadRequest(
      'invalidFilter',
      `Invalid filter "${text}": ${error instanceof Error ? error.message : String(error)}`,
    );
  }
}

type Token = ReturnType<typeof filterParser.tokenizer>[number];

/**
 * `emails[type eq "work"].value eq "x"` (what Entra and Okta send) asks for one work email whose
 * value is x. scim2-parse-filter reads it as two independent tests, `emails[type eq "work"] and
 * emails.value eq "x"`, which a user with any work email and x as a home email would pass. The
 * tokens are rewritten to the value filter it means, `emails[(type eq "work") and value eq "x"]`,
 * before the parser sees them.
 */
function foldSubAttributesIntoValuePaths(tokens: Token[]): Token[] {
  const out: Token[] = [];
  const opened: number[] = [];
  for (let index = 0; index < tokens.length; index += 1) {
    const token = tokens[index] as Token;
    if (token.type === 'Bracket' && token.literal === '[') opened.push(out.length);
    if (token.type !== 'Bracket' || !token.literal.startsWith(']')) {
      out.push(token);
      continue;
    }
    const open = opened.pop();
    const sub = tokens[index + 1];
    const operator = tokens[index + 2];
    if (
      token.literal !== '].' ||
      open === undefined ||
      sub?.type !== 'Word' ||
      operator?.type !== 'Word'
    ) {
      out.push(token);
      continue;
    }
    const bracket = (literal: string): Token => ({ type: 'Bracket', literal });
    const comparison = [sub, operator];
    index += 2;
    if (operator.literal.toLowerCase() !== 'pr') {
      const value = tokens[index + 1];
      if (value !== undefined) comparison.push(value);
      index += 1;
    }
    out.splice(open + 1, 0, bracket('('));
    out.push(bracket(')'), { type: 'Word', literal: 'and' }, ...comparison, bracket(']'));
  }
  return out;
}

export const stringifyFilter = (filter: Filter): string => filterLibrary.stringify(filter);
/**
 * The values a filter can only match among, when it names them: `attr eq "x"`, an `or` of such
 * filters (their union), an `and` with at least one such side (its intersection). Undefined when
 * the filter can match values it does not name (`ne`, `sw`, `not`, `pr`…), so the caller must test
 * it on every value. Lets a PATCH on `members[value eq "…"]` look at the members it names only.
 */
export function valuesNamedBy(filter: Filter, attribute: string): string[] | undefined {
  const named = (f: Filter): Set<string> | undefined => {
    switch (f.op) {
      case 'eq':
        // The tester compares with ===: a value of another type (a number, a boolean) names no
        // string, so it can match none of them.
        return f.attrPath.toLowerCase() === attribute.toLowerCase()
          ? new Set(typeof f.compValue === 'string' ? [f.compValue] : [])
          : undefined;
      case 'or': {
        const union = new Set<string>();
        for (const inner of f.filters) {
          const values = named(inner);
          if (values === undefined) return undefined;
          for (const value of values) union.add(value);
        }
        return union;
      }
      case 'and': {
        const sides = f.filters.map(named).filter((v): v is Set<string> => v !== undefined);
        const [first] = sides;
        if (first === undefined) return undefined;
        return new Set([...first].filter((value) => sides.every((side) => side.has(value))));
      }
      default:
        return undefined;
    }
  };
  const values = named(filter);
  return values === undefined ? undefined : [...values];
}

/** An in-memory test, for filters over values already loaded (PATCH value paths). */
export const filterTester = (filter: Filter): ((resource: unknown) => boolean) =>
  filterLibrary.filter(filter);

type Value = boolean | null | number | string;

/** How one attribute is stored: a column (with its comparison kind) or a computed condition. */
type Mapping =
  | { kind: 'string'; column: string; caseExact: boolean; lowered?: boolean }
  | { kind: 'integer'; column: string }
  /** `assigned`: the column saying whether the value is assigned at all (for `pr`). */
  | { kind: 'boolean'; column: string; assigned?: string }
  | { kind: 'dateTime'; column: string }
  | { kind: 'lines'; column: string }
  | { kind: 'json'; schema: string | null; attribute: string; sub: string | null }
  | { kind: 'members' }
  | { kind: 'groups' };

export interface FilterTarget {
  kind: ResourceKind;
  dialect: Dialect;
  /** The column holding the resource's SCIM id (an end user, member or group ID). */
  idColumn: string;
  idIsInteger: boolean;
  /** Builds "this group has a member with this id" for `members` filters ('' = any member). */
  memberExists?: (memberId: string) => RawBuilder<boolean>;
  /**
   * Builds "this user is in this connection's group with this id" for `groups` filters ('' = any
   * group): a user's groups are read from memberships, not stored with the user.
   */
  groupExists?: (groupId: string) => RawBuilder<boolean>;
}

const USER_COLUMNS: Record<string, Mapping> = {
  // user_name_key is the lower-cased userName, indexed with the connection: Okta's and Entra's
  // `userName eq` lookup is an index probe.
  userName: { kind: 'string', column: 'su.user_name_key', caseExact: false, lowered: true },
  externalId: { kind: 'string', column: 'su.external_id', caseExact: true },
  displayName: { kind: 'string', column: 'su.display_name', caseExact: false },
  'name.givenName': { kind: 'string', column: 'su.given_name', caseExact: false },
  'name.familyName': { kind: 'string', column: 'su.family_name', caseExact: false },
  'name.formatted': { kind: 'string', column: 'su.formatted_name', caseExact: false },
  emails: { kind: 'lines', column: 'su.emails_text' },
  'emails.value': { kind: 'lines', column: 'su.emails_text' },
  active: { kind: 'boolean', column: 'su.active', assigned: 'su.active_assigned' },
  'meta.created': { kind: 'dateTime', column: 'su.created_at' },
  'meta.lastModified': { kind: 'dateTime', column: 'su.updated_at' },
  groups: { kind: 'groups' },
  'groups.value': { kind: 'groups' },
};
const GROUP_COLUMNS: Record<string, Mapping> = {
  displayName: { kind: 'string', column: 'sg.display_name', caseExact: false },
  externalId: { kind: 'string', column: 'sg.external_id', caseExact: true },
  members: { kind: 'members' },
  'members.value': { kind: 'members' },
  'meta.created': { kind: 'dateTime', column: 'sg.created_at' },
  'meta.lastModified': { kind: 'dateTime', column: 'sg.updated_at' },
};

function mappingFor(target: FilterTarget, attrPath: string): Mapping {
  const lower = attrPath.toLowerCase();
  if (lower === 'id')
    return target.idIsInteger
      ? { kind: 'integer', column: target.idColumn }
      : { kind: 'string', column: target.idColumn, caseExact: true };
  if (lower === 'meta.created' || lower === 'meta.lastmodified') {
    return (target.kind === 'User' ? USER_COLUMNS : GROUP_COLUMNS)[
      lower === 'meta.created' ? 'meta.created' : 'meta.lastModified'
    ] as Mapping;
  }
  const resolved = resolveAttributePath(target.kind, attrPath);
  if (resolved === undefined)
    throw scimBadRequest('invalidFilter', `Unknown attribute in filter: ${attrPath}`);
  const path = canonicalPath(resolved);
  const columns = target.kind === 'User' ? USER_COLUMNS : GROUP_COLUMNS;
  const mapped = columns[path];
  if (mapped !== undefined) return mapped;
  // Other single-valued text attributes live in the stored resource JSON (title, userType,
  // the enterprise extension's department, manager.value…).
  const leaf = resolved.sub ?? resolved.def;
  if (
    target.kind === 'User' &&
    !resolved.def.multiValued &&
    (leaf.type === 'string' || leaf.type === 'reference') &&
    leaf.returned !== 'never'
  ) {
    return {
      kind: 'json',
      schema: resolved.schema === ENTERPRISE_SCHEMA ? ENTERPRISE_SCHEMA : null,
      attribute: resolved.def.name,
      sub: resolved.sub?.name ?? null,
    };
  }
  throw scimBadRequest('invalidFilter', `Filtering on ${attrPath} is not supported`);
}

/** The integer an ID string names, when Roster could have issued it (digits, in column range). */
function issuedId(value: string): number | undefined {
  if (!/^[1-9][0-9]{0,9}$/.test(value)) return undefined;
  const id = Number(value);
  return id <= ID_MAX ? id : undefined;
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function like(column: RawBuilder<unknown>, pattern: string): RawBuilder<boolean> {
  return sql<boolean>`${column} like ${pattern} escape '\\'`;
}

function jsonText(
  target: FilterTarget,
  mapping: Extract<Mapping, { kind: 'json' }>,
): RawBuilder<string | null> {
  const keys = [mapping.schema, mapping.attribute, mapping.sub].filter(
    (k): k is string => k !== null,
  );
  if (target.dialect === 'postgres') {
    return sql<
      string | null
    >`(su.resource::jsonb #>> ${`{${keys.map((k) => `"${k}"`).join(',')}}`})`;
  }
  return sql<
    string | null
  >`json_extract(su.resource, ${`$.${keys.map((k) => `"${k}"`).join('.')}`})`;
}

function stringCondition(
  column: RawBuilder<unknown>,
  caseExact: boolean,
  op: string,
  value: Value,
  attrPath: string,
  lowered = false,
): RawBuilder<boolean> {
  if (op === 'pr') return sql<boolean>`(${column} is not null and ${column} <> '')`;
  if (value === null) {
    if (op === 'eq') return sql<boolean>`${column} is null`;
    if (op === 'ne') return sql<boolean>`${column} is not null`;
  }
  if (typeof value !== 'string')
    throw scimBadRequest(
      'invalidFilter',
      `${attrPath} compares with a string, not ${JSON.stringify(value)}`,
    );
  const left = caseExact || lowered ? column : sql`lower(${column})`;
  const right = caseExact ? value : value.toLowerCase();
  switch (op) {
    case 'eq':
      return sql<boolean>`${left} = ${right}`;
    case 'ne':
      return sql<boolean>`(${column} is null or ${left} <> ${right})`;
    case 'co':
      return like(left, `%${escapeLike(right)}%`);
    case 'sw':
      return like(left, `${escapeLike(right)}%`);
    case 'ew':
      return like(left, `%${escapeLike(right)}`);
    case 'gt':
      return sql<boolean>`${left} > ${right}`;
    case 'ge':
      return sql<boolean>`${left} >= ${right}`;
    case 'lt':
      return sql<boolean>`${left} < ${right}`;
    case 'le':
      return sql<boolean>`${left} <= ${right}`;
    default:
      throw scimBadRequest('invalidFilter', `Unknown operator ${op}`);
  }
}

function compare(
  target: FilterTarget,
  attrPath: string,
  op: string,
  value: Value,
): RawBuilder<boolean> {
  const stored = storedMultiValued(target, attrPath);
  if (stored !== undefined && !(canonicalPath(stored) in USER_COLUMNS)) {
    // `phoneNumbers.type eq "work"` is `phoneNumbers[type eq "work"]`, and a bare `roles eq "x"`
    // tests the value (RFC 7644 §3.4.2.2). emails and emails.value keep their indexed column.
    const sub = stored.sub?.name ?? 'value';
    const element: Filter =
      op === 'pr'
        ? { op: 'pr', attrPath: sub }
        : ({ op, attrPath: sub, compValue: value } as Filter);
    return someElement(target, stored.def, element);
  }
  const mapping = mappingFor(target, attrPath);
  switch (mapping.kind) {
    case 'string':
      return stringCondition(
        sql.ref(mapping.column),
        mapping.caseExact,
        op,
        value,
        attrPath,
        mapping.lowered === true,
      );
    case 'json':
      return stringCondition(jsonText(target, mapping), false, op, value, attrPath);
    case 'integer': {
      // RFC 7643 §3.1: `id` is a string attribute, even where Roster stores it as an integer. It
      // compares with a string like any other (`id eq 1.5` is a 400, as `userName eq 1.5` is);
      // eq/ne probe the integer column when the string is an ID Roster can have issued, and the
      // ordering and substring operators compare the ID's text, lexicographically (§3.4.2.2).
      const column = sql.ref(mapping.column);
      if (op === 'pr') return sql<boolean>`${column} is not null`;
      if (typeof value !== 'string' && value !== null) {
        throw scimBadRequest(
          'invalidFilter',
          `${attrPath} compares with a string, not ${JSON.stringify(value)}`,
        );
      }
      const id = typeof value === 'string' ? issuedId(value) : undefined;
      if (op === 'eq')
        return id === undefined ? sql<boolean>`1 = 0` : sql<boolean>`${column} = ${id}`;
      if (op === 'ne')
        return id === undefined ? sql<boolean>`1 = 1` : sql<boolean>`${column} <> ${id}`;
      return stringCondition(sql`cast(${column} as text)`, true, op, value, attrPath);
    }
    case 'boolean': {
      const column = sql.ref(mapping.column);
      if (op === 'pr')
        return mapping.assigned === undefined
          ? sql<boolean>`1 = 1`
          : sql<boolean>`${sql.ref(mapping.assigned)} = 1`;
      const flag =
        typeof value === 'boolean'
          ? value
          : typeof value === 'string'
            ? ['true', 'false'].includes(value.toLowerCase())
              ? value.toLowerCase() === 'true'
              : undefined
            : undefined;
      if (flag === undefined || (op !== 'eq' && op !== 'ne')) {
        throw scimBadRequest(
          'invalidFilter',
          `${attrPath} is a boolean: compare it with eq or ne and true or false`,
        );
      }
      return sql<boolean>`${column} ${sql.raw(op === 'eq' ? '=' : '<>')} ${flag ? 1 : 0}`;
    }
    case 'dateTime': {
      const column = sql.ref(mapping.column);
      if (op === 'pr') return sql<boolean>`${column} is not null`;
      const time = typeof value === 'string' ? new Date(value) : undefined;
      if (time === undefined || Number.isNaN(time.getTime())) {
        throw scimBadRequest(
          'invalidFilter',
          `${attrPath} compares with a date-time, not ${JSON.stringify(value)}`,
        );
      }
      const iso = time.toISOString();
      const operators: Record<string, string> = {
        eq: '=',
        ne: '<>',
        gt: '>',
        ge: '>=',
        lt: '<',
        le: '<=',
      };
      const sqlOp = operators[op];
      if (sqlOp === undefined)
        throw scimBadRequest('invalidFilter', `${op} does not apply to the date-time ${attrPath}`);
      return sql<boolean>`${column} ${sql.raw(sqlOp)} ${iso}`;
    }
    case 'lines': {
      // emails_text is "\nvalue1\nvalue2\n", lower-cased: "any email matches".
      const column = sql.ref(mapping.column);
      if (op === 'pr') return sql<boolean>`${column} <> ''`;
      if (typeof value !== 'string')
        throw scimBadRequest('invalidFilter', `${attrPath} compares with a string`);
      const v = escapeLike(value.toLowerCase());
      switch (op) {
        case 'eq':
          return like(column, `%\n${v}\n%`);
        case 'ne':
          return sql<boolean>`not (${like(column, `%\n${v}\n%`)})`;
        case 'co':
          return like(column, `%${v}%`);
        case 'sw':
          return like(column, `%\n${v}%`);
        case 'ew':
          return like(column, `%${v}\n%`);
        default:
          throw scimBadRequest('invalidFilter', `${op} is not supported on ${attrPath}`);
      }
    }
    case 'members':
    case 'groups': {
      const exists = mapping.kind === 'members' ? target.memberExists : target.groupExists;
      if (exists === undefined)
        throw scimBadRequest('invalidFilter', `Filtering on ${attrPath} is not supported`);
      if (op === 'pr') return exists('');
      const what = mapping.kind === 'members' ? 'user' : 'group';
      if (op !== 'eq' || typeof value !== 'string')
        throw scimBadRequest('invalidFilter', `${attrPath} supports eq "<${what} id>" and pr`);
      return exists(value);
    }
  }
}

/**
 * A multi-valued complex attribute kept in the stored resource JSON (`emails`, `phoneNumbers`,
 * `addresses`, `roles`…): a test on it means "some element passes", and every test inside one
 * value filter applies to the same element (`emails[type eq "work" and value eq "x"]`).
 */
function storedMultiValued(target: FilterTarget, attrPath: string): ResolvedPath | undefined {
  if (target.kind !== 'User') return undefined;
  const resolved = resolveAttributePath(target.kind, attrPath);
  const def = resolved?.def;
  if (def === undefined || !def.multiValued || def.type !== 'complex') return undefined;
  // groups is not stored with the user (it is read from group memberships).
  return def.mutability === 'readOnly' ? undefined : resolved;
}

function elementText(dialect: Dialect, name: string): RawBuilder<string | null> {
  return dialect === 'postgres'
    ? sql<string | null>`(e.value ->> ${name}::text)`
    : sql<string | null>`json_extract(e.value, ${`$."${name}"`})`;
}

function elementCondition(
  target: FilterTarget,
  def: AttributeDef,
  filter: Filter,
): RawBuilder<boolean> {
  switch (filter.op) {
    case 'and':
    case 'or': {
      const parts = filter.filters.map((f) => elementCondition(target, def, f));
      return sql<boolean>`(${sql.join(parts, sql.raw(filter.op === 'and' ? ' and ' : ' or '))})`;
    }
    case 'not':
      return sql<boolean>`(not ${elementCondition(target, def, filter.filter)})`;
    case '[]':
      throw scimBadRequest('invalidFilter', 'Nested value paths are not allowed');
    default: {
      const sub = (def.subAttributes ?? []).find(
        (s) => s.name.toLowerCase() === filter.attrPath.toLowerCase(),
      );
      const path = `${def.name}.${filter.attrPath}`;
      if (sub === undefined)
        throw scimBadRequest('invalidFilter', `Unknown attribute in filter: ${path}`);
      const value = filter.op === 'pr' ? null : filter.compValue;
      if (sub.type === 'boolean') {
        // Present means a JSON boolean: SQLite's json_type says 'true' or 'false', PostgreSQL's
        // jsonb_typeof 'boolean'.
        if (filter.op === 'pr')
          return target.dialect === 'postgres'
            ? sql<boolean>`coalesce(jsonb_typeof(e.value -> ${sub.name}::text) = 'boolean', false)`
            : sql<boolean>`coalesce(json_type(e.value, ${`$."${sub.name}"`}) in ('true', 'false'), 0)`;
        const flag =
          typeof value === 'boolean'
            ? value
            : typeof value === 'string' && ['true', 'false'].includes(value.toLowerCase())
              ? value.toLowerCase() === 'true'
              : undefined;
        if (flag === undefined || (filter.op !== 'eq' && filter.op !== 'ne'))
          throw scimBadRequest(
            'invalidFilter',
            `${path} is a boolean: compare it with eq or ne and true or false`,
          );
        const text =
          target.dialect === 'postgres'
            ? sql`(e.value ->> ${sub.name}::text)`
            : sql`json_type(e.value, ${`$."${sub.name}"`})`;
        const matches = sql<boolean>`coalesce(${text} = ${flag ? 'true' : 'false'}, false)`;
        return filter.op === 'eq' ? matches : sql<boolean>`(not ${matches})`;
      }
      return stringCondition(
        elementText(target.dialect, sub.name),
        sub.caseExact,
        filter.op,
        value,
        path,
      );
    }
  }
}

/** "Some element of the stored attribute passes `filter`" (its attribute paths are sub-attributes). */
function someElement(target: FilterTarget, def: AttributeDef, filter: Filter): RawBuilder<boolean> {
  const condition = elementCondition(target, def, filter);
  if (target.dialect === 'postgres') {
    const list = sql`(su.resource::jsonb -> ${def.name}::text)`;
    return sql<boolean>`exists (select 1 from jsonb_array_elements(case when jsonb_typeof(${list}) = 'array' then ${list} else '[]'::jsonb end) as e(value) where ${condition})`;
  }
  return sql<boolean>`exists (select 1 from json_each(su.resource, ${`$."${def.name}"`}) as e where ${condition})`;
}

/** Rewrites `members[value eq "x"]` as `members.value eq "x"` (only sub-attributes we store). */
function qualify(filter: Filter, parent: string): Filter {
  switch (filter.op) {
    case 'and':
    case 'or':
      return { op: filter.op, filters: filter.filters.map((f) => qualify(f, parent)) };
    case 'not':
      return { op: 'not', filter: qualify(filter.filter, parent) };
    case '[]':
      throw scimBadRequest('invalidFilter', 'Nested value paths are not allowed');
    default:
      return { ...filter, attrPath: `${parent}.${filter.attrPath}` };
  }
}

export function compileFilter(target: FilterTarget, filter: Filter): RawBuilder<boolean> {
  switch (filter.op) {
    case 'and':
    case 'or': {
      const parts = filter.filters.map((f) => compileFilter(target, f));
      return sql<boolean>`(${sql.join(parts, sql.raw(filter.op === 'and' ? ' and ' : ' or '))})`;
    }
    case 'not':
      return sql<boolean>`(not ${compileFilter(target, filter.filter)})`;
    case '[]': {
      const stored = storedMultiValued(target, filter.attrPath);
      if (stored !== undefined && stored.sub === undefined)
        return someElement(target, stored.def, filter.valFilter);
      return compileFilter(target, qualify(filter.valFilter, filter.attrPath));
    }
    case 'pr':
      return compare(target, filter.attrPath, 'pr', null);
    default:
      return compare(target, filter.attrPath, filter.op, filter.compValue);
  }
}
