/**
 * What every request schema gets on top of Ajv, in one place so that no route can forget it:
 *
 * - Numbers are bounded. A route whose request schema has an integer or number without both a
 *   minimum and a maximum is refused when the server starts: an unbounded number reaches the
 *   database, which refuses it (PostgreSQL: out of range for integer) with a 500.
 * - Numbers are finite. Ajv coerces query and path text with `+value`, so `1e400`, `Infinity`
 *   and a 400-digit number become ±Infinity after its type check, and its minimum/maximum checks
 *   skip non-finite numbers: the value would pass validation. JSON bodies cannot carry Infinity
 *   past Ajv (its strictNumbers default refuses it), so only coerced parts need the check.
 */
import type { FastifySchemaValidationError } from 'fastify';

interface SchemaNode {
  type?: unknown;
  minimum?: unknown;
  maximum?: unknown;
  exclusiveMinimum?: unknown;
  exclusiveMaximum?: unknown;
  [key: string]: unknown;
}

/** Keywords whose values are subschemas (or arrays/maps of them) in the schemas Roster writes. */
const SUBSCHEMA_KEYWORDS = ['items', 'additionalProperties', 'not', 'if', 'then', 'else'];
const SUBSCHEMA_LIST_KEYWORDS = ['anyOf', 'oneOf', 'allOf', 'prefixItems'];
const SUBSCHEMA_MAP_KEYWORDS = ['properties', 'patternProperties'];

function isNode(value: unknown): value is SchemaNode {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNumeric(type: unknown): boolean {
  const types = Array.isArray(type) ? (type as unknown[]) : [type];
  return types.includes('integer') || types.includes('number');
}

/** The paths of numeric subschemas that lack a lower or an upper bound. */
export function unboundedNumbers(schema: unknown, at = ''): string[] {
  if (!isNode(schema)) return [];
  const found: string[] = [];
  if (isNumeric(schema.type)) {
    const hasMin = schema.minimum !== undefined || schema.exclusiveMinimum !== undefined;
    const hasMax = schema.maximum !== undefined || schema.exclusiveMaximum !== undefined;
    if (!hasMin || !hasMax) found.push(at === '' ? '(root)' : at);
  }
  for (const keyword of SUBSCHEMA_KEYWORDS) {
    found.push(...unboundedNumbers(schema[keyword], `${at}/${keyword}`));
  }
  for (const keyword of SUBSCHEMA_LIST_KEYWORDS) {
    const list = schema[keyword];
    if (Array.isArray(list)) {
      list.forEach((item, index) => found.push(...unboundedNumbers(item, `${at}/${index}`)));
    }
  }
  for (const keyword of SUBSCHEMA_MAP_KEYWORDS) {
    const map = schema[keyword];
    if (isNode(map)) {
      for (const [name, item] of Object.entries(map)) {
        found.push(...unboundedNumbers(item, `${at}/${name}`));
      }
    }
  }
  return found;
}

/** Throws (at route registration) when a request schema has an unbounded number. */
export function assertBoundedNumbers(schema: unknown, where: string): void {
  const unbounded = unboundedNumbers(schema);
  if (unbounded.length > 0) {
    throw new Error(
      `${where}: every integer and number in a request schema needs a minimum and a maximum ` +
        `(use BoundedInteger or Id from @roster/contracts); unbounded: ${unbounded.join(', ')}`,
    );
  }
}

/**
 * The first non-finite number in coerced query, path or header values (flat objects whose
 * values may be arrays), as a validation issue; undefined when there is none.
 */
function nonFiniteIssue(data: unknown): FastifySchemaValidationError | undefined {
  if (!isNode(data)) return undefined;
  for (const [key, value] of Object.entries(data)) {
    const values: unknown[] = Array.isArray(value) ? value : [value];
    for (const item of values) {
      if (typeof item === 'number' && !Number.isFinite(item)) {
        return {
          keyword: 'type',
          instancePath: `/${key}`,
          schemaPath: '#/type',
          params: {},
          message: 'must be a finite number',
        };
      }
    }
  }
  return undefined;
}

// `never`: the second argument (Ajv's data context) is only passed through, never built here.
type Validate = ((data: unknown, options?: never) => unknown) & { errors?: unknown };

/** Wraps a coercing validator so that text coerced to ±Infinity is a 400, not a value. */
export function refuseNonFinite<V extends Validate>(validate: V): V {
  const wrapped = (data: unknown, options?: never) => {
    // Ajv takes the parent as a second argument so that it can replace a coerced root value.
    const result = validate(data, options);
    if (result !== true) return result;
    const issue = nonFiniteIssue(data);
    return issue === undefined ? true : { error: [issue] };
  };
  Object.defineProperty(wrapped, 'errors', { get: () => validate.errors });
  // Fastify passes the parent only to functions that carry Ajv's schemaEnv; keep Ajv's others too.
  for (const key of ['schema', 'schemaEnv', 'source'] as const) {
    if (key in validate) {
      Object.defineProperty(wrapped, key, { value: (validate as Record<string, unknown>)[key] });
    }
  }
  // The wrapper keeps the call contract and properties of the Ajv function it wraps.
  return wrapped as unknown as V;
}

interface FormatHost {
  formats: Record<string, unknown>;
  addFormat(
    name: string,
    format: { type: 'string'; validate: (value: string) => boolean },
  ): unknown;
}

function checkWith(format: unknown, value: string): boolean {
  if (typeof format === 'function') return (format as (value: string) => boolean)(value);
  if (format instanceof RegExp) return format.test(value);
  if (typeof format === 'object' && format !== null && 'validate' in format) {
    return checkWith(format.validate, value);
  }
  return true;
}

/**
 * `date-time` as ajv-formats checks it (RFC 3339), and also a time that Date can hold: RFC 3339
 * allows the leap second `23:59:60`, which Date cannot parse, so `since=2016-12-31T23:59:60Z`
 * passed validation and then threw where the service turned it into a Date. Installed with the
 * compiler's onCreate, after ajv-formats.
 */
export function requireRepresentableDateTimes(ajv: FormatHost): void {
  const rfc3339 = ajv.formats['date-time'];
  ajv.addFormat('date-time', {
    type: 'string',
    validate: (value) => checkWith(rfc3339, value) && Number.isFinite(Date.parse(value)),
  });
}
