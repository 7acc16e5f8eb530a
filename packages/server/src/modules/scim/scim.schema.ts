/**
 * The SCIM schemas Roster serves (RFC 7643 §4 core User and Group, §4.3 enterprise extension),
 * as data: the same definitions canonicalise what identity providers send (attribute names are
 * case-insensitive, §2.1; Entra sends "Primary", "Department", "True"), drive the `/Schemas`
 * document, and tell the filter and PATCH code which attributes exist.
 */
import { scimBadRequest } from './scim.errors.js';

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SEARCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

type AttributeType = 'string' | 'boolean' | 'complex' | 'reference' | 'dateTime' | 'binary';
type Mutability = 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';

export interface AttributeDef {
  name: string;
  type: AttributeType;
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: Mutability;
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server';
  subAttributes?: AttributeDef[];
  referenceTypes?: string[];
}

type Options = Partial<Omit<AttributeDef, 'name' | 'type' | 'subAttributes'>>;

function attr(
  name: string,
  type: AttributeType,
  description: string,
  options: Options = {},
): AttributeDef {
  return {
    name,
    type,
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...options,
  };
}
function complex(
  name: string,
  description: string,
  subAttributes: AttributeDef[],
  options: Options = {},
): AttributeDef {
  return { ...attr(name, 'complex', description, options), subAttributes };
}
/** value/display/type/primary: the shape of emails, phoneNumbers, ims, photos, entitlements, roles. */
function multiValued(
  name: string,
  description: string,
  valueType: AttributeType = 'string',
  valueOptions: Options = {},
): AttributeDef {
  return complex(
    name,
    description,
    [
      attr('value', valueType, `The ${name} value`, valueOptions),
      attr('display', 'string', 'A human-readable name, primarily used for display purposes'),
      attr('type', 'string', 'A label indicating the attribute\'s function, e.g. "work" or "home"'),
      attr('primary', 'boolean', 'Whether this value is the preferred one'),
    ],
    { multiValued: true },
  );
}

export const USER_ATTRIBUTES: AttributeDef[] = [
  attr(
    'userName',
    'string',
    "Unique identifier for the User, used to sign in; Roster keeps it as the end user's email",
    {
      required: true,
      uniqueness: 'server',
    },
  ),
  complex('name', "The components of the user's real name", [
    attr('formatted', 'string', 'The full name, formatted for display'),
    attr('familyName', 'string', 'The family name'),
    attr('givenName', 'string', 'The given name'),
    attr('middleName', 'string', 'The middle name(s)'),
    attr('honorificPrefix', 'string', 'The honorific prefix(es)'),
    attr('honorificSuffix', 'string', 'The honorific suffix(es)'),
  ]),
  attr('displayName', 'string', 'The name of the User, suitable for display to end-users'),
  attr('nickName', 'string', 'The casual way to address the user'),
  attr('profileUrl', 'reference', "A URI of the user's online profile", {
    referenceTypes: ['external'],
  }),
  attr('title', 'string', 'The user\'s title, such as "Vice President"'),
  attr('userType', 'string', 'The relationship between the organization and the user'),
  attr('preferredLanguage', 'string', "The user's preferred written or spoken language"),
  attr('locale', 'string', "The user's default location"),
  attr('timezone', 'string', "The user's time zone in the Olson format"),
  attr(
    'active',
    'boolean',
    "The user's administrative status; false deactivates the user (no access, data kept)",
  ),
  attr(
    'password',
    'string',
    'Accepted and ignored: Roster users sign in through their identity provider',
    {
      mutability: 'writeOnly',
      returned: 'never',
    },
  ),
  multiValued('emails', 'Email addresses for the user'),
  multiValued('phoneNumbers', 'Phone numbers for the User'),
  multiValued('ims', 'Instant messaging addresses for the User'),
  // Every reference declares its reference types (RFC 7643 §7, §8.7.1): clients build their
  // models from them (python-scim's cannot read a reference without them).
  multiValued('photos', 'URLs of photos of the User', 'reference', {
    referenceTypes: ['external'],
  }),
  complex(
    'addresses',
    'A physical mailing address for this User',
    [
      attr('formatted', 'string', 'The full mailing address'),
      attr('streetAddress', 'string', 'The full street address component'),
      attr('locality', 'string', 'The city or locality component'),
      attr('region', 'string', 'The state or region component'),
      attr('postalCode', 'string', 'The zip code or postal code component'),
      attr('country', 'string', 'The country name component'),
      attr('type', 'string', "A label indicating the attribute's function"),
      attr('primary', 'boolean', 'Whether this address is the preferred one'),
    ],
    { multiValued: true },
  ),
  complex(
    'groups',
    'The groups of this connection the user belongs to (read-only: change group membership on the Group)',
    [
      attr('value', 'string', 'The identifier of the group', { mutability: 'readOnly' }),
      attr('$ref', 'reference', 'The URI of the group', {
        mutability: 'readOnly',
        referenceTypes: ['Group'],
      }),
      attr('display', 'string', "The group's displayName", { mutability: 'readOnly' }),
      attr('type', 'string', '"direct"', { mutability: 'readOnly' }),
    ],
    { multiValued: true, mutability: 'readOnly' },
  ),
  multiValued('entitlements', 'A list of entitlements for the User'),
  multiValued('roles', 'A list of roles for the User'),
  multiValued('x509Certificates', 'A list of certificates issued to the User', 'binary'),
];

export const ENTERPRISE_ATTRIBUTES: AttributeDef[] = [
  attr('employeeNumber', 'string', 'Numeric or alphanumeric identifier assigned to a person'),
  attr('costCenter', 'string', 'Identifies the name of a cost center'),
  attr('organization', 'string', 'Identifies the name of an organization'),
  attr('division', 'string', 'Identifies the name of a division'),
  attr('department', 'string', 'Identifies the name of a department'),
  complex('manager', "The User's manager", [
    attr('value', 'string', "The id of the SCIM resource representing the User's manager"),
    attr('$ref', 'reference', 'The URI of the manager', { referenceTypes: ['User'] }),
    attr('displayName', 'string', 'The displayName of the manager', { mutability: 'readOnly' }),
  ]),
];

export const GROUP_ATTRIBUTES: AttributeDef[] = [
  attr(
    'displayName',
    'string',
    "A human-readable name for the Group; the end-user or collaborator group's name",
    {
      required: true,
    },
  ),
  complex(
    'members',
    'A list of members of the Group (users of this connection)',
    [
      attr('value', 'string', 'Identifier of the member of this Group', {
        mutability: 'immutable',
      }),
      attr('$ref', 'reference', 'The URI of the member', {
        mutability: 'immutable',
        referenceTypes: ['User'],
      }),
      attr('display', 'string', "The member's display name", { mutability: 'readOnly' }),
      attr('type', 'string', 'The type of the member: "User"', { mutability: 'immutable' }),
    ],
    { multiValued: true },
  ),
];

export type ResourceKind = 'User' | 'Group';

/** RFC 7643 §3.1 common attribute set by the client; not listed in the schema documents. */
const EXTERNAL_ID = attr(
  'externalId',
  'string',
  'The identifier of the resource in the identity provider',
  { caseExact: true },
);
const USER_WITH_COMMON = [...USER_ATTRIBUTES, EXTERNAL_ID];
const GROUP_WITH_COMMON = [...GROUP_ATTRIBUTES, EXTERNAL_ID];

export function attributesOf(kind: ResourceKind): AttributeDef[] {
  return kind === 'User' ? USER_WITH_COMMON : GROUP_WITH_COMMON;
}

function findDef(defs: AttributeDef[], name: string): AttributeDef | undefined {
  const key = name.toLowerCase();
  return defs.find((d) => d.name.toLowerCase() === key);
}

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `true`, `"True"`, `"false"`…: Entra sends booleans as strings. */
export function toBoolean(value: unknown, name: string): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const lower = value.trim().toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  throw scimBadRequest(
    'invalidValue',
    `Attribute ${name} must be a boolean, not ${JSON.stringify(value)}`,
  );
}

const MAX_STRING = 2048;
const MAX_VALUES = 100;

function canonicalValue(
  def: AttributeDef,
  value: unknown,
  path: string,
  forWrite: boolean,
): Json | undefined {
  if (value === null || value === undefined) return undefined;
  if (def.type === 'complex') {
    // A bare string for a complex attribute is its value: Entra's manager "value".
    const object = isObject(value) ? value : typeof value === 'string' ? { value } : undefined;
    if (object === undefined)
      throw scimBadRequest('invalidValue', `Attribute ${path} must be an object`);
    const out = canonicalObject(def.subAttributes ?? [], object, path, forWrite);
    return Object.keys(out).length === 0 ? undefined : out;
  }
  if (def.type === 'boolean') return toBoolean(value, path);
  if (typeof value === 'string') {
    if (value.length > MAX_STRING)
      throw scimBadRequest(
        'invalidValue',
        `Attribute ${path} is longer than ${MAX_STRING} characters`,
      );
    return value;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw scimBadRequest('invalidValue', `Attribute ${path} must be a string`);
}

/** The value of one attribute, canonicalised; multi-valued attributes take one value or a list. */
export function canonicalAttribute(
  def: AttributeDef,
  value: unknown,
  path: string,
  forWrite = true,
): Json | undefined {
  if (def.multiValued) {
    if (value === null || value === undefined) return undefined;
    const list = Array.isArray(value) ? (value as unknown[]) : [value];
    if (list.length > MAX_VALUES && def.name !== 'members') {
      throw scimBadRequest('invalidValue', `Attribute ${path} has more than ${MAX_VALUES} values`);
    }
    const out = list
      .map((item) => canonicalValue(def, item, path, forWrite))
      .filter((item): item is Json => item !== undefined);
    return out;
  }
  return canonicalValue(def, value, path, forWrite);
}

function canonicalObject(
  defs: AttributeDef[],
  input: JsonObject,
  path: string,
  forWrite: boolean,
): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(input)) {
    const def = findDef(defs, key);
    // Unknown and read-only attributes in a request are ignored (RFC 7644 §3.3, §3.5.1).
    if (def === undefined || (forWrite && def.mutability === 'readOnly')) continue;
    const canonical = canonicalAttribute(
      def,
      value,
      path === '' ? def.name : `${path}.${def.name}`,
      forWrite,
    );
    if (canonical !== undefined) out[def.name] = canonical;
  }
  return out;
}

/** A User or Group body from an identity provider, with canonical attribute names and types. */
export function canonicalResource(kind: ResourceKind, input: JsonObject): JsonObject {
  const out = canonicalObject(attributesOf(kind), input, '', true);
  if (kind === 'User') {
    delete out.password;
    const extensionKey = Object.keys(input).find(
      (key) => key.toLowerCase() === ENTERPRISE_SCHEMA.toLowerCase(),
    );
    const extension = extensionKey === undefined ? undefined : input[extensionKey];
    if (isObject(extension)) {
      const canonical = canonicalObject(ENTERPRISE_ATTRIBUTES, extension, ENTERPRISE_SCHEMA, true);
      if (Object.keys(canonical).length > 0) out[ENTERPRISE_SCHEMA] = canonical;
    }
  }
  return out;
}

export interface ResolvedPath {
  /** The schema URN the attribute belongs to (core or extension). */
  schema: string;
  def: AttributeDef;
  sub?: AttributeDef;
}

/**
 * Resolves an attribute path such as `name.familyName`, `emails.value`, `meta.created` or
 * `urn:…:enterprise:2.0:User:manager.value` against a resource's schemas, case-insensitively.
 * Returns undefined for unknown attributes.
 */
export function resolveAttributePath(
  kind: ResourceKind,
  rawPath: string,
): ResolvedPath | undefined {
  let path = rawPath;
  let schema = kind === 'User' ? USER_SCHEMA : GROUP_SCHEMA;
  let defs = attributesOf(kind);
  const lower = path.toLowerCase();
  if (kind === 'User' && lower.startsWith(`${ENTERPRISE_SCHEMA.toLowerCase()}:`)) {
    path = path.slice(ENTERPRISE_SCHEMA.length + 1);
    schema = ENTERPRISE_SCHEMA;
    defs = ENTERPRISE_ATTRIBUTES;
  } else if (lower.startsWith(`${schema.toLowerCase()}:`)) {
    path = path.slice(schema.length + 1);
  }
  const [first, second, ...rest] = path.split('.');
  if (first === undefined || rest.length > 0) return undefined;
  const def = findDef(defs, first);
  if (def === undefined) return undefined;
  if (second === undefined) return { schema, def };
  const sub = findDef(def.subAttributes ?? [], second);
  return sub === undefined ? undefined : { schema, def, sub };
}

/** The canonical spelling of a path, e.g. `Name.FamilyName` → `name.familyName`. */
export function canonicalPath(resolved: ResolvedPath): string {
  const base =
    resolved.schema === ENTERPRISE_SCHEMA
      ? `${ENTERPRISE_SCHEMA}:${resolved.def.name}`
      : resolved.def.name;
  return resolved.sub === undefined ? base : `${base}.${resolved.sub.name}`;
}

// ---- discovery (RFC 7644 §4) ----------------------------------------------------------------

function schemaDocument(
  id: string,
  name: string,
  description: string,
  attributes: AttributeDef[],
  baseUrl: string,
) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
    id,
    name,
    description,
    attributes,
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${id}` },
  };
}

export function schemaDocuments(baseUrl: string) {
  return [
    schemaDocument(USER_SCHEMA, 'User', 'User Account', USER_ATTRIBUTES, baseUrl),
    schemaDocument(GROUP_SCHEMA, 'Group', 'Group', GROUP_ATTRIBUTES, baseUrl),
    schemaDocument(
      ENTERPRISE_SCHEMA,
      'EnterpriseUser',
      'Enterprise User',
      ENTERPRISE_ATTRIBUTES,
      baseUrl,
    ),
  ];
}

export function resourceTypeDocuments(baseUrl: string) {
  return [
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'User Account',
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_SCHEMA, required: false }],
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/User` },
    },
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'Group',
      schema: GROUP_SCHEMA,
      schemaExtensions: [],
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/Group` },
    },
  ];
}

export const MAX_RESULTS = 1000;

export function serviceProviderConfig(baseUrl: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    documentationUri: 'https://github.com/roster/roster/blob/main/docs/scim.md',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description:
          'The connection token shown once when the SCIM connection was created or rotated',
        specUri: 'https://www.rfc-editor.org/rfc/rfc6750',
        documentationUri: 'https://github.com/roster/roster/blob/main/docs/scim.md',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}
