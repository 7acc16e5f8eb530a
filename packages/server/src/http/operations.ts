/**
 * Routes take their schemas from the operations table (@roster/contracts, operations.ts), and
 * `operationTableProblems` says where a registered route and the table disagree: a route the table
 * does not list, a schema that differs, an operation no route serves. tests/operations.test.ts
 * runs it on the real app, so a route added without its table entry fails with the entry to add.
 */
import type { RouteOptions } from 'fastify';
import type { TSchema } from 'typebox';
import * as contracts from '@roster/contracts';
import {
  OPERATIONS,
  type OperationName,
  type Operations,
  type OperationSpec,
} from '@roster/contracts';
import { errorResponses } from './schemas.js';

type IoKey = 'params' | 'querystring' | 'body';
type Io<N extends OperationName> = Pick<Operations[N], Extract<keyof Operations[N], IoKey>>;
type ErrorSchemas = Readonly<Record<number, TSchema>>;
const IO_KEYS: readonly IoKey[] = ['params', 'querystring', 'body'];

/**
 * The Fastify `schema` fields of one operation: its params, query and body as the table has them,
 * and its answers with the error answers the route shares (`errorResponses` unless given).
 */
export function schemaOf<N extends OperationName, E extends ErrorSchemas = typeof errorResponses>(
  name: N,
  errors?: E,
): Io<N> & { response: Operations[N]['response'] & E } {
  const operation: OperationSpec = OPERATIONS[name];
  const io: Partial<Record<IoKey, TSchema>> = {};
  for (const key of IO_KEYS) if (operation[key] !== undefined) io[key] = operation[key];
  return {
    // TypeScript cannot follow the loop above: `io` holds exactly the Io<N> fields of the operation.
    ...(io as Io<N>),
    response: {
      ...operation.response,
      ...(errors ?? errorResponses),
    } as Operations[N]['response'] & E,
  };
}

/** A route in the table's spelling: `GET /api/end_users/{id}`. */
function routeKey(method: string, url: string): string {
  return `${method.toUpperCase()} ${url.replace(/:(\w+)/g, '{$1}')}`;
}

/** Documented routes only: the table lists what the OpenAPI document shows. */
function isDocumented(route: RouteOptions): boolean {
  return route.schema !== undefined && route.schema.hide !== true && route.method !== 'HEAD';
}

function same(a: unknown, b: unknown): boolean {
  return a === b || JSON.stringify(a) === JSON.stringify(b);
}

/** The exported name of a contracts schema, `DataOf(X)` / `PagedList(X)` of one, or its JSON. */
function nameOf(schema: unknown): string {
  if (schema === undefined) return 'none';
  const exported = Object.entries(contracts).find(([, value]) => same(value, schema));
  if (exported !== undefined) return exported[0];
  const object = schema as { properties?: Record<string, { items?: unknown }> } | undefined;
  const props = object?.properties;
  if (props !== undefined) {
    const keys = Object.keys(props).sort().join(',');
    if (keys === 'data') return `DataOf(${nameOf(props.data)})`;
    if (keys === 'data,page,total') return `PagedList(${nameOf(props.data?.items)})`;
  }
  return `/* schema as in the route: */ ${JSON.stringify(schema)}`;
}

/** A name for a new operation, in the table's style: `listAgents`, `getAgent`, `createAgent`. */
function suggestName(method: string, path: string): string {
  const words = path
    .split('/')
    .filter((part) => part !== '' && part !== 'api' && !part.startsWith('{'))
    .map((part) => part.replace(/[_-](\w)/g, (_, c: string) => c.toUpperCase()))
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1));
  const singular = (word: string) => word.replace(/ies$/, 'y').replace(/s$/, '');
  const one = words.map(singular).join('');
  // A list keeps its last word plural: listAgentTools.
  const many = [...words.slice(0, -1).map(singular), ...words.slice(-1)].join('');
  const endsWithParam = path.endsWith('}');
  switch (method) {
    case 'get':
      return endsWithParam ? `get${one}` : `list${many}`;
    case 'post':
      return `create${one}`;
    case 'put':
      return `update${one}`;
    case 'patch':
      return `patch${one}`;
    default:
      return `delete${one}`;
  }
}

function entryFor(name: string, method: string, path: string, route: RouteOptions): string {
  const schema = route.schema as Partial<Record<IoKey, unknown>> & {
    response?: Record<string, unknown>;
  };
  const parts = [`method: '${method}'`, `path: '${path}'`];
  for (const key of IO_KEYS)
    if (schema[key] !== undefined) parts.push(`${key}: ${nameOf(schema[key])}`);
  const answers = Object.entries(schema.response ?? {})
    .filter(([status]) => !(status in errorResponses))
    .map(([status, answer]) => `${status}: ${nameOf(answer)}`);
  parts.push(`response: { ${answers.join(', ')} }`);
  return `${name}: { ${parts.join(', ')} },`;
}

/** Every disagreement between the registered routes and the operations table, as a fix to make. */
export function operationTableProblems(routes: readonly RouteOptions[]): string[] {
  const table = new Map<string, OperationName>();
  for (const [name, operation] of Object.entries(OPERATIONS) as [
    OperationName,
    Operations[OperationName],
  ][])
    table.set(routeKey(operation.method, operation.path), name);
  const problems: string[] = [];
  const served = new Set<OperationName>();
  for (const route of routes) {
    if (!isDocumented(route)) continue;
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      const key = routeKey(method, route.url);
      const name = table.get(key);
      const lower = method.toLowerCase();
      const path = key.slice(key.indexOf(' ') + 1);
      if (name === undefined) {
        const suggested = suggestName(lower, path);
        problems.push(
          `${key} is registered but not in the operations table. Add to OPERATIONS in ` +
            `packages/contracts/src/operations.ts:\n    ${entryFor(suggested, lower, path, route)}\n` +
            `  and in the route take the schemas from it: schema: { tags, summary, ...schemaOf('${suggested}') }`,
        );
        continue;
      }
      served.add(name);
      const operation: Partial<Record<IoKey, unknown>> & { response: Record<number, unknown> } =
        OPERATIONS[name];
      const schema = route.schema as Partial<Record<IoKey, unknown>> & {
        response?: Record<string, unknown>;
      };
      for (const field of IO_KEYS)
        if (!same(schema[field], operation[field]))
          problems.push(
            `${key} (${name}): the route's ${field} schema is not the table's ` +
              `(${nameOf(schema[field])} in the route, ${nameOf(operation[field])} in the table); ` +
              `take it from the table: ...schemaOf('${name}')`,
          );
      for (const [status, answer] of Object.entries(operation.response))
        if (!same(schema.response?.[status], answer))
          problems.push(
            `${key} (${name}): the route's ${status} answer is not the table's ` +
              `(${nameOf(schema.response?.[status])} in the route, ${nameOf(answer)} in the table)`,
          );
    }
  }
  for (const name of Object.keys(OPERATIONS) as OperationName[])
    if (!served.has(name))
      problems.push(
        `${name} (${routeKey(OPERATIONS[name].method, OPERATIONS[name].path)}) is in the operations ` +
          'table but no route serves it: register the route or remove the entry',
      );
  return problems;
}
