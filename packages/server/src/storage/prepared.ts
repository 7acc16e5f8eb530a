/**
 * Queries built once and run many times with only their parameters.
 *
 * Kysely builds a query per call: the builder objects, the operation-node tree, then the
 * compiler's string. On the hot paths of the mixed load that was a quarter of the main thread's
 * allocation, for SQL text that is the same on every call (only the values differ), and both
 * drivers already cache their prepared statements by that text. Kysely itself has no "compile
 * once, bind later" (`CompiledQuery` is the output of one build; kysely-params does this outside
 * Kysely but is unmaintained since 2023 and not in the tree), so this is the small version of it:
 *
 * ```ts
 * const findMember = prepared((db, p: { workspaceId: number; id: number }) =>
 *   db.selectFrom('members').selectAll().where('workspace_id', '=', p.workspaceId).where('id', '=', p.id),
 * );
 * const member = await findMember.takeFirst(trx, { workspaceId, id });
 * ```
 *
 * The query stays written with Kysely's builder. On its first run on a database the builder runs
 * once with markers in place of the parameters (`p` is a proxy: reading `p.id` gives the marker of
 * `id`), Kysely compiles it for that database's dialect, and the positions of the markers in the
 * compiled parameter list are kept. Each call then fills a new parameter list by position and runs
 * the same SQL text through `db.executeQuery`, so transactions, the drivers and the error
 * translation see exactly what a built query would have sent.
 *
 * What the builder cannot see is what a marker holds: a parameter must be used only where Kysely
 * sends a value as a bound parameter (comparisons, `values`, `set`, `limit`, `sql` template
 * values), never to choose the query's shape (no `if (p.x)` in the builder: the shape is decided
 * once, for every call). A query whose shape varies (optional clauses, a chosen ORDER BY) is
 * either several prepared queries or stays built per call. A list parameter (`lists: ['ids']`)
 * gives `in (…)` one placeholder per element: its SQL is compiled per list length (a variant per
 * length, up to MAX_LIST_VARIANTS; longer lists are compiled for that call only).
 */
import type { Compilable, CompiledQuery, DialectAdapter, Kysely, QueryResult } from 'kysely';
import type { Database } from './database.js';

/** A parameter's place in a query under construction. Never reaches a driver. */
class Marker {
  constructor(
    readonly name: string,
    /** The element's position for a list parameter, -1 for a scalar one. */
    readonly element: number,
  ) {}
}

/**
 * List lengths that get a cached variant; a longer list's SQL is compiled for its call only. As
 * long as the API's largest page (PAGE_SIZE_MAX, 100): the lists are mostly a page's IDs (its
 * members' roles and groups), and at 16 a page of 50 compiled its queries on every request — the
 * builder, the compiler and a 50-element node tree on the main thread each time. The variants are
 * made only for lengths that occur: at most this many per query, a few KB each.
 */
export const MAX_LIST_VARIANTS = 100;

/** One compiled variant: its SQL text and, per parameter position, where the value comes from. */
interface Plan {
  readonly compiled: CompiledQuery;
  /** Per position: the parameter's name, or undefined for a constant the builder wrote. */
  readonly names: readonly (string | undefined)[];
  /** Per position: the list element's index, or -1. */
  readonly elements: readonly number[];
}

type ParamsOf<P> = { readonly [K in keyof P]: P[K] };

/** A query prepared with `prepared()`: run it on a database or a transaction with its values. */
export interface PreparedQuery<P, R> {
  /** The rows. */
  execute(db: Kysely<Database>, params: ParamsOf<P>): Promise<R[]>;
  /** The first row, or undefined. */
  takeFirst(db: Kysely<Database>, params: ParamsOf<P>): Promise<R | undefined>;
  /** The driver's result (rows, and numAffectedRows of an update, delete or insert). */
  run(db: Kysely<Database>, params: ParamsOf<P>): Promise<QueryResult<R>>;
  /** What `run` would send: the SQL text and these values in their places (EXPLAIN, tests). */
  compile(db: Kysely<Database>, params: ParamsOf<P>): CompiledQuery<R>;
}

/**
 * Defines a query built once per database (see the file's comment). `build` receives a database
 * to build on and `p`, whose properties stand for the per-call parameters; `lists` names the
 * parameters that are arrays used as `in (…)` lists.
 */
export function prepared<P extends object, R>(
  build: (db: Kysely<Database>, p: P) => Compilable<R>,
  options: { lists?: readonly (keyof P & string)[] } = {},
): PreparedQuery<P, R> {
  const lists = options.lists ?? [];
  // Per database (its adapter is made once per Kysely instance and shared by its transactions),
  // per list-length key: a reconnected or second database compiles its own on first use.
  const plans = new WeakMap<DialectAdapter, Map<string, Plan>>();

  function plan(db: Kysely<Database>, params: ParamsOf<P>): Plan {
    const adapter = db.getExecutor().adapter;
    let variants = plans.get(adapter);
    if (variants === undefined) {
      variants = new Map();
      plans.set(adapter, variants);
    }
    let key = '';
    let cacheable = true;
    for (const name of lists) {
      const length = listOf(params, name).length;
      if (length > MAX_LIST_VARIANTS) cacheable = false;
      key += `${String(length)},`;
    }
    const known = variants.get(key);
    if (known !== undefined) return known;
    const made = compile(db, params);
    if (cacheable) variants.set(key, made);
    return made;
  }

  function compile(db: Kysely<Database>, params: ParamsOf<P>): Plan {
    /** The scalar parameters and non-empty lists the builder read: each must reach the SQL. */
    const read = new Set<string>();
    const markers = new Proxy({} as P, {
      get(_target, name) {
        if (typeof name !== 'string') return undefined;
        if (!lists.includes(name as keyof P & string)) {
          read.add(name);
          return new Marker(name, -1);
        }
        const list = listOf(params, name);
        if (list.length > 0) read.add(name);
        return list.map((_, element) => new Marker(name, element));
      },
    });
    const compiled = build(db, markers).compile();
    const names: (string | undefined)[] = [];
    const elements: number[] = [];
    for (const value of compiled.parameters) {
      names.push(value instanceof Marker ? value.name : undefined);
      elements.push(value instanceof Marker ? value.element : -1);
      if (value instanceof Marker) read.delete(value.name);
    }
    // A parameter read where Kysely does not bind a value (sql.raw, sql.lit, a condition in the
    // builder) would be compiled into the text or decide the shape once for every call: refused.
    if (read.size > 0)
      throw new Error(
        `prepared query: ${[...read].join(', ')} must be used as bound values only (see storage/prepared.ts)`,
      );
    return { compiled, names, elements };
  }

  function bind(plan: Plan, params: ParamsOf<P>): CompiledQuery<R> {
    const { compiled, names, elements } = plan;
    const parameters: unknown[] = new Array<unknown>(names.length);
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      if (name === undefined) {
        parameters[i] = compiled.parameters[i];
        continue;
      }
      const value = (params as Record<string, unknown>)[name];
      const element = elements[i] ?? -1;
      parameters[i] = element < 0 ? value : (value as readonly unknown[])[element];
    }
    // The same node and SQL text on every call: the driver's statement cache is keyed by text,
    // and Roster's databases run no Kysely plugins (they would key their state by queryId).
    return { query: compiled.query, queryId: compiled.queryId, sql: compiled.sql, parameters };
  }

  async function run(db: Kysely<Database>, params: ParamsOf<P>): Promise<QueryResult<R>> {
    return db.executeQuery(bind(plan(db, params), params));
  }

  return {
    run,
    compile: (db, params) => bind(plan(db, params), params),
    async execute(db, params) {
      return (await run(db, params)).rows;
    },
    async takeFirst(db, params) {
      return (await run(db, params)).rows[0];
    },
  };
}

function listOf(params: object, name: string): readonly unknown[] {
  const value = (params as Record<string, unknown>)[name];
  if (!Array.isArray(value)) throw new TypeError(`prepared query: ${name} must be an array`);
  return value;
}
