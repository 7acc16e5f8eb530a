/**
 * SCIM resource shapes: what is stored for a User or Group, how it is rendered (meta, version,
 * location), and the `attributes` / `excludedAttributes` projection (RFC 7644 §3.9).
 */
import { scimBadRequest } from './scim.errors.js';
import {
  ENTERPRISE_SCHEMA,
  GROUP_SCHEMA,
  isObject,
  resolveAttributePath,
  USER_SCHEMA,
  type Json,
  type JsonObject,
  type ResourceKind,
} from './scim.schema.js';

/** Attributes kept in their own columns rather than in the stored resource JSON. */
const USER_COLUMN_ATTRIBUTES = [
  'userName',
  'externalId',
  'active',
  'id',
  'meta',
  'schemas',
  'groups',
  'password',
];

export interface UserFields {
  userName: string;
  externalId: string | null;
  active: boolean;
  /** false when `active` is unassigned (removed by a PATCH): the user is active. */
  activeAssigned: boolean;
  displayName: string | null;
  givenName: string | null;
  familyName: string | null;
  formatted: string | null;
  /** "\nemail1\nemail2\n", lower-cased, or '' without emails. */
  emailsText: string;
  /** The rest of the resource, stored as JSON. */
  rest: JsonObject;
  /** The name Roster shows for the person. */
  personName: string;
}

const MAX_USER_NAME = 254;

function text(value: Json | undefined): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

/** Splits a canonical User into its columns and the rest; checks what RFC 7643 requires. */
export function userFields(resource: JsonObject): UserFields {
  const userName = typeof resource.userName === 'string' ? resource.userName.trim() : '';
  if (userName === '') throw scimBadRequest('invalidValue', 'userName is required');
  if (userName.length > MAX_USER_NAME)
    throw scimBadRequest('invalidValue', `userName is longer than ${MAX_USER_NAME} characters`);
  const rest: JsonObject = {};
  for (const [key, value] of Object.entries(resource))
    if (!USER_COLUMN_ATTRIBUTES.includes(key)) rest[key] = value;
  const name = isObject(resource.name) ? resource.name : {};
  const emails = Array.isArray(resource.emails) ? resource.emails : [];
  const emailValues = emails.flatMap((email) =>
    isObject(email) && typeof email.value === 'string' ? [email.value.toLowerCase()] : [],
  );
  const displayName = text(resource.displayName);
  const givenName = text(name.givenName);
  const familyName = text(name.familyName);
  const formatted = text(name.formatted);
  const personName =
    displayName ??
    formatted ??
    ([givenName, familyName].filter((n) => n !== null).join(' ') || userName);
  return {
    userName,
    externalId: text(resource.externalId),
    active: resource.active === undefined ? true : resource.active === true,
    activeAssigned: resource.active !== undefined,
    displayName,
    givenName,
    familyName,
    formatted,
    emailsText: emailValues.length === 0 ? '' : `\n${emailValues.join('\n')}\n`,
    rest,
    personName: personName.slice(0, 200),
  };
}

export interface Meta {
  created: string;
  lastModified: string;
  version: number;
  location: string;
}

export const etagOf = (version: number) => `W/"${version}"`;

/** `W/"3"`, `"3"` and `3` all name version 3; `*` matches any. */
export function ifMatchSatisfied(header: string | undefined, version: number): boolean {
  if (header === undefined || header.trim() === '') return true;
  return header.split(',').some((tag) => {
    const value = tag.trim();
    return value === '*' || value.replace(/^W\//, '').replace(/^"|"$/g, '') === String(version);
  });
}

export function renderUser(
  id: string,
  stored: {
    userName: string;
    externalId: string | null;
    /** undefined: unassigned (not shown). */
    active: boolean | undefined;
    rest: JsonObject;
  },
  groups: { value: string; display: string; $ref: string }[],
  meta: Meta,
): JsonObject {
  const schemas = [
    USER_SCHEMA,
    ...(stored.rest[ENTERPRISE_SCHEMA] === undefined ? [] : [ENTERPRISE_SCHEMA]),
  ];
  const { [ENTERPRISE_SCHEMA]: extension, ...core } = stored.rest;
  return {
    schemas,
    id,
    ...(stored.externalId === null ? {} : { externalId: stored.externalId }),
    userName: stored.userName,
    ...core,
    ...(stored.active === undefined ? {} : { active: stored.active }),
    groups: groups.map((g) => ({ ...g, type: 'direct' })),
    ...(extension === undefined ? {} : { [ENTERPRISE_SCHEMA]: extension }),
    meta: {
      resourceType: 'User',
      created: meta.created,
      lastModified: meta.lastModified,
      location: meta.location,
      version: etagOf(meta.version),
    },
  };
}

export function renderGroup(
  id: string,
  stored: { displayName: string; externalId: string | null },
  members: { value: string; display: string; $ref: string }[] | null,
  meta: Meta,
): JsonObject {
  return {
    schemas: [GROUP_SCHEMA],
    id,
    ...(stored.externalId === null ? {} : { externalId: stored.externalId }),
    displayName: stored.displayName,
    ...(members === null ? {} : { members: members.map((m) => ({ ...m, type: 'User' })) }),
    meta: {
      resourceType: 'Group',
      created: meta.created,
      lastModified: meta.lastModified,
      location: meta.location,
      version: etagOf(meta.version),
    },
  };
}

// ---- attributes / excludedAttributes ----------------------------------------------------------

interface Selector {
  /** Top-level key in the rendered resource (the extension URN for enterprise attributes). */
  key: string;
  /** Attribute inside the extension object, for enterprise attributes. */
  extensionAttribute?: string;
  sub?: string;
}

/** Splits "userName,emails[type eq \"work\"],name.givenName" at top-level commas only. */
function splitList(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let current = '';
  for (const ch of list) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && ch === '[') depth += 1;
    else if (!quoted && ch === ']') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0 && !quoted) {
      out.push(current);
      current = '';
    } else current += ch;
  }
  out.push(current);
  return out.map((s) => s.trim()).filter((s) => s !== '');
}

function selectors(kind: ResourceKind, list: string | undefined): Selector[] | undefined {
  if (list === undefined || list.trim() === '') return undefined;
  return splitList(list).flatMap((item): Selector[] => {
    // A value filter in an attribute list selects the attribute (Entra sends `emails[type eq "work"]`).
    const path = item.replace(/\[.*\]/, '');
    const lower = path.toLowerCase();
    if (lower === 'meta' || lower.startsWith('meta.')) return [{ key: 'meta' }];
    if (lower === 'id' || lower === 'schemas') return [];
    if (lower === ENTERPRISE_SCHEMA.toLowerCase()) return [{ key: ENTERPRISE_SCHEMA }];
    const resolved = resolveAttributePath(kind, path);
    if (resolved === undefined) return [];
    if (resolved.schema === ENTERPRISE_SCHEMA) {
      return [
        {
          key: ENTERPRISE_SCHEMA,
          extensionAttribute: resolved.def.name,
          ...(resolved.sub === undefined ? {} : { sub: resolved.sub.name }),
        },
      ];
    }
    if (resolved.sub !== undefined) return [{ key: resolved.def.name, sub: resolved.sub.name }];
    return [{ key: resolved.def.name }];
  });
}

function pick(value: Json | undefined, sub: string): Json | undefined {
  if (Array.isArray(value))
    return value.map((item) =>
      isObject(item) && item[sub] !== undefined ? { [sub]: item[sub] ?? null } : {},
    );
  if (isObject(value)) return value[sub] === undefined ? undefined : { [sub]: value[sub] ?? null };
  return undefined;
}

function mergeInto(target: JsonObject, key: string, value: Json | undefined) {
  if (value === undefined) return;
  const existing = target[key];
  if (isObject(existing) && isObject(value)) target[key] = { ...existing, ...value };
  else if (Array.isArray(existing) && Array.isArray(value)) {
    target[key] = existing.map((item, i) => {
      const other = value[i];
      return isObject(item) && isObject(other) ? { ...item, ...other } : item;
    });
  } else target[key] = value;
}

/** Applies `attributes` (only these, plus id and schemas) or `excludedAttributes`. */
export function project(
  kind: ResourceKind,
  resource: JsonObject,
  attributes?: string,
  excluded?: string,
): JsonObject {
  const only = selectors(kind, attributes);
  if (only !== undefined) {
    const out: JsonObject = { schemas: resource.schemas ?? [], id: resource.id ?? null };
    for (const selector of only) {
      const value = resource[selector.key];
      if (selector.extensionAttribute !== undefined) {
        const inner = isObject(value) ? value[selector.extensionAttribute] : undefined;
        const picked = selector.sub === undefined ? inner : pick(inner, selector.sub);
        if (picked !== undefined)
          mergeInto(out, selector.key, { [selector.extensionAttribute]: picked });
      } else
        mergeInto(
          out,
          selector.key,
          selector.sub === undefined ? value : pick(value, selector.sub),
        );
    }
    return out;
  }
  const without = selectors(kind, excluded);
  if (without === undefined) return resource;
  const out: JsonObject = { ...resource };
  for (const selector of without) {
    if (selector.key === 'meta') continue;
    if (selector.extensionAttribute !== undefined) {
      const inner = out[selector.key];
      const name = selector.extensionAttribute;
      if (isObject(inner) && selector.sub === undefined)
        out[selector.key] = Object.fromEntries(Object.entries(inner).filter(([k]) => k !== name));
    } else if (selector.sub === undefined) {
      const key = selector.key;
      for (const k of Object.keys(out)) if (k === key) Reflect.deleteProperty(out, k);
    } else {
      const value = out[selector.key];
      const sub = selector.sub;
      if (Array.isArray(value))
        out[selector.key] = value.map((item) =>
          isObject(item)
            ? Object.fromEntries(Object.entries(item).filter(([k]) => k !== sub))
            : item,
        );
      else if (isObject(value))
        out[selector.key] = Object.fromEntries(Object.entries(value).filter(([k]) => k !== sub));
    }
  }
  return out;
}

/** Whether a list projection asks for members at all (so a group list can skip loading them). */
export function wantsAttribute(
  kind: ResourceKind,
  name: string,
  attributes?: string,
  excluded?: string,
): boolean {
  const only = selectors(kind, attributes);
  if (only !== undefined) return only.some((s) => s.key === name);
  const without = selectors(kind, excluded);
  return without === undefined || !without.some((s) => s.key === name && s.sub === undefined);
}
