/**
 * PATCH (RFC 7644 §3.5.2) as identity providers really send it, normalised before scim-patch
 * applies it: ops in any case (Entra's "Replace"), operations without `path` whose value holds
 * dotted or extension-qualified keys, attribute names in any case, booleans as "True"/"False",
 * Entra's manager given as a bare id. Paths with value filters (`members[value eq "…"]`,
 * `emails[type eq "work"].value`) are parsed with the filter parser and re-spelt canonically.
 */
import {
  scimPatch,
  ScimError as PatchLibraryError,
  type ScimPatchOperation,
  type ScimResource,
} from 'scim-patch';
import type { Filter } from 'scim2-parse-filter';
import { scimBadRequest, ScimError } from './scim.errors.js';
import { parseScimFilter, stringifyFilter } from './scim.filter.js';
import {
  canonicalAttribute,
  canonicalPath,
  ENTERPRISE_ATTRIBUTES,
  ENTERPRISE_SCHEMA,
  isObject,
  PATCH_SCHEMA,
  resolveAttributePath,
  type AttributeDef,
  type Json,
  type JsonObject,
  type ResolvedPath,
  type ResourceKind,
} from './scim.schema.js';

export type PatchOp = 'add' | 'remove' | 'replace';

export interface NormalisedOperation {
  op: PatchOp;
  /** Canonical path, e.g. `name.givenName`, `members[value eq "12"]`. */
  path: string;
  resolved: ResolvedPath;
  /** The value filter of a path such as `members[value eq "12"]`, canonical. */
  filter?: Filter;
  value?: Json;
}

const MAX_OPERATIONS = 1000;

function canonicalFilter(filter: Filter, parent: AttributeDef): Filter {
  switch (filter.op) {
    case 'and':
    case 'or':
      return { op: filter.op, filters: filter.filters.map((f) => canonicalFilter(f, parent)) };
    case 'not':
      return { op: 'not', filter: canonicalFilter(filter.filter, parent) };
    case '[]':
      throw scimBadRequest('invalidPath', 'Nested value filters are not allowed in a PATCH path');
    default: {
      const sub = (parent.subAttributes ?? []).find(
        (s) => s.name.toLowerCase() === filter.attrPath.toLowerCase(),
      );
      if (sub === undefined)
        throw scimBadRequest(
          'invalidPath',
          `${parent.name} has no sub-attribute ${filter.attrPath}`,
        );
      let compValue = 'compValue' in filter ? filter.compValue : undefined;
      if (sub.type === 'boolean' && typeof compValue === 'string')
        compValue = compValue.toLowerCase() === 'true';
      return compValue === undefined
        ? { ...filter, attrPath: sub.name }
        : ({ ...filter, attrPath: sub.name, compValue } as Filter);
    }
  }
}

/** `attr`, `attr.sub`, `urn:…:attr.sub`, `attr[filter]`, `attr[filter].sub`. */
function parsePath(
  kind: ResourceKind,
  raw: string,
): { path: string; resolved: ResolvedPath; filter?: Filter } {
  const open = raw.indexOf('[');
  if (open === -1) {
    const resolved = resolveAttributePath(kind, raw.trim());
    if (resolved === undefined)
      throw scimBadRequest('invalidPath', `Unknown attribute path: ${raw}`);
    return { path: canonicalPath(resolved), resolved };
  }
  const close = raw.lastIndexOf(']');
  if (close < open) throw scimBadRequest('invalidPath', `Invalid path: ${raw}`);
  const attribute = raw.slice(0, open).trim();
  const after = raw.slice(close + 1).trim();
  if (after !== '' && !after.startsWith('.'))
    throw scimBadRequest('invalidPath', `Invalid path: ${raw}`);
  const base = resolveAttributePath(kind, attribute);
  if (base === undefined || base.sub !== undefined || !base.def.multiValued) {
    throw scimBadRequest('invalidPath', `A value filter needs a multi-valued attribute: ${raw}`);
  }
  const filter = canonicalFilter(parseScimFilter(raw.slice(open + 1, close)), base.def);
  let resolved: ResolvedPath = base;
  if (after !== '') {
    const sub = (base.def.subAttributes ?? []).find(
      (s) => s.name.toLowerCase() === after.slice(1).toLowerCase(),
    );
    if (sub === undefined) throw scimBadRequest('invalidPath', `Unknown attribute path: ${raw}`);
    resolved = { ...base, sub };
  }
  const prefix = canonicalPath(base);
  return {
    path: `${prefix}[${stringifyFilter(filter)}]${resolved.sub === undefined ? '' : `.${resolved.sub.name}`}`,
    resolved,
    filter,
  };
}

function canonicalOpValue(
  resolved: ResolvedPath,
  value: unknown,
  path: string,
  hasFilter: boolean,
): Json | undefined {
  if (resolved.sub !== undefined) {
    return canonicalAttribute({ ...resolved.sub, multiValued: false }, value, path);
  }
  // `emails[type eq "work"]` with an object value addresses one element.
  if (hasFilter) return canonicalAttribute({ ...resolved.def, multiValued: false }, value, path);
  return canonicalAttribute(resolved.def, value, path);
}

function normaliseOp(value: unknown): PatchOp {
  const op = typeof value === 'string' ? value.toLowerCase() : '';
  if (op === 'add' || op === 'remove' || op === 'replace') return op;
  throw scimBadRequest(
    'invalidSyntax',
    `Unknown PATCH op ${JSON.stringify(value)}: use add, remove or replace`,
  );
}

/** Validates a PatchOp body and returns its operations with canonical paths and values. */
export function normalisePatch(kind: ResourceKind, body: unknown): NormalisedOperation[] {
  if (!isObject(body)) throw scimBadRequest('invalidSyntax', 'The body must be a PatchOp object');
  const schemas = body.schemas;
  if (
    Array.isArray(schemas) &&
    !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === PATCH_SCHEMA.toLowerCase())
  ) {
    throw scimBadRequest('invalidSyntax', `schemas must contain ${PATCH_SCHEMA}`);
  }
  const operationsKey = Object.keys(body).find((k) => k.toLowerCase() === 'operations');
  const operations = operationsKey === undefined ? undefined : body[operationsKey];
  if (!Array.isArray(operations) || operations.length === 0)
    throw scimBadRequest('invalidSyntax', 'Operations must be a non-empty array');
  if (operations.length > MAX_OPERATIONS)
    throw scimBadRequest('tooMany', `At most ${MAX_OPERATIONS} operations per PATCH`);
  const out: NormalisedOperation[] = [];
  for (const raw of operations) {
    if (!isObject(raw)) throw scimBadRequest('invalidSyntax', 'Each operation must be an object');
    const entries = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.toLowerCase(), v]));
    const op = normaliseOp(entries.op);
    const rawPath =
      typeof entries.path === 'string' && entries.path.trim() !== ''
        ? entries.path.trim()
        : undefined;
    const value = entries.value;
    if (rawPath === undefined) {
      if (op === 'remove') throw scimBadRequest('noTarget', 'A remove operation needs a path');
      if (!isObject(value))
        throw scimBadRequest('invalidValue', `An ${op} without a path needs an object value`);
      // Each key is a path of its own: "name.givenName", "urn:…:enterprise:2.0:User:department",
      // or the extension object itself.
      for (const [key, inner] of Object.entries(value)) {
        if (key.toLowerCase() === ENTERPRISE_SCHEMA.toLowerCase() && kind === 'User') {
          if (!isObject(inner))
            throw scimBadRequest('invalidValue', `${ENTERPRISE_SCHEMA} must be an object`);
          for (const [extKey, extValue] of Object.entries(inner))
            out.push(...pathOperation(kind, op, `${ENTERPRISE_SCHEMA}:${extKey}`, extValue, true));
          continue;
        }
        out.push(...pathOperation(kind, op, key, inner, true));
      }
      continue;
    }
    if (op !== 'remove' && !('value' in entries))
      throw scimBadRequest('invalidValue', `An ${op} operation needs a value`);
    out.push(...pathOperation(kind, op, rawPath, value, false));
  }
  return out;
}

/**
 * `path` naming the enterprise extension itself (RFC 7644 §3.5.2: a path may be a schema URN).
 * scim-patch misreads the URN's dots, so the operation becomes one per attribute: `add` merges
 * the given attributes, `remove` removes them all, `replace` does both (the extension becomes
 * exactly the value).
 */
function extensionOperations(op: PatchOp, value: unknown): NormalisedOperation[] {
  const out: NormalisedOperation[] = [];
  if (op !== 'add') {
    for (const def of ENTERPRISE_ATTRIBUTES)
      out.push(...pathOperation('User', 'remove', `${ENTERPRISE_SCHEMA}:${def.name}`, null, false));
  }
  if (op === 'remove' || value === null || value === undefined) return out;
  if (!isObject(value))
    throw scimBadRequest('invalidValue', `The value of ${ENTERPRISE_SCHEMA} must be an object`);
  for (const [key, inner] of Object.entries(value))
    out.push(...pathOperation('User', op, `${ENTERPRISE_SCHEMA}:${key}`, inner, true));
  return out;
}

function pathOperation(
  kind: ResourceKind,
  op: PatchOp,
  rawPath: string,
  value: unknown,
  fromValueKeys: boolean,
): NormalisedOperation[] {
  const lower = rawPath.toLowerCase();
  if (kind === 'User' && lower === ENTERPRISE_SCHEMA.toLowerCase())
    return extensionOperations(op, value);
  // Read-only and server-kept attributes named in a value object are ignored (Okta sends "id").
  if (
    fromValueKeys &&
    (lower === 'id' || lower === 'schemas' || lower === 'meta' || lower.startsWith('meta.'))
  )
    return [];
  let parsed: ReturnType<typeof parsePath>;
  try {
    parsed = parsePath(kind, rawPath);
  } catch (error) {
    // Unknown attributes inside a no-path value are ignored like unknown attributes of a PUT.
    if (fromValueKeys && error instanceof ScimError && error.scimType === 'invalidPath') return [];
    throw error;
  }
  const leaf = parsed.resolved.sub ?? parsed.resolved.def;
  if (leaf.mutability === 'readOnly' || parsed.resolved.def.mutability === 'readOnly') {
    if (fromValueKeys) return [];
    throw scimBadRequest('mutability', `${parsed.path} is read-only`);
  }
  if (op === 'remove') {
    const operation: NormalisedOperation = { op, path: parsed.path, resolved: parsed.resolved };
    if (parsed.filter !== undefined) operation.filter = parsed.filter;
    if (value !== undefined && value !== null) {
      const canonical = canonicalOpValue(
        parsed.resolved,
        value,
        parsed.path,
        parsed.filter !== undefined,
      );
      if (canonical !== undefined) operation.value = canonical;
    }
    return [operation];
  }
  const canonical = canonicalOpValue(
    parsed.resolved,
    value,
    parsed.path,
    parsed.filter !== undefined,
  );
  // Setting an attribute to null or an empty value is removing it (RFC 7644 §3.5.2.3).
  if (canonical === undefined) {
    return parsed.filter === undefined && parsed.resolved.sub === undefined
      ? [{ op: 'remove', path: parsed.path, resolved: parsed.resolved }]
      : [];
  }
  const operation: NormalisedOperation = {
    op,
    path: parsed.path,
    resolved: parsed.resolved,
    value: canonical,
  };
  if (parsed.filter !== undefined) operation.filter = parsed.filter;
  return [operation];
}

/** Applies normalised operations to an in-memory resource with scim-patch. */
export function applyPatch(resource: JsonObject, operations: NormalisedOperation[]): JsonObject {
  const patchOps: ScimPatchOperation[] = operations.map((o) =>
    o.op === 'remove'
      ? o.value === undefined
        ? { op: 'remove', path: o.path }
        : { op: 'remove', path: o.path, value: o.value as never }
      : { op: o.op, path: o.path, value: o.value as never },
  );
  try {
    // scim-patch types resources loosely (schemas and meta required); ours are plain JSON objects.
    const target = resource as unknown as ScimResource;
    return scimPatch(target, patchOps, {
      mutateDocument: false,
      treatMissingAsAdd: true,
    }) as unknown as JsonObject;
  } catch (error) {
    if (error instanceof PatchLibraryError) {
      const scimType =
        error.scimCode === 'noTarget'
          ? 'noTarget'
          : error.scimCode === 'invalidPath'
            ? 'invalidPath'
            : 'invalidValue';
      throw scimBadRequest(scimType, error.message);
    }
    throw error;
  }
}
