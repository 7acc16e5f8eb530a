/**
 * Paging helpers: the list endpoints answer `{data, total, page}` and take `page[number]` and
 * `page[size]`. `pages()` walks them one request per page as an async iterator; `items()` yields
 * the items one by one. Which paths page, and their item types, come from the generated types.
 */
import type { paths } from './generated/api.js';
import type { RosterClient } from './client.js';

interface PagedBody {
  data: unknown[];
  total: number;
  page: { number: number; size: number };
}

/** The GET paths that answer a page. */
export type PagedPath = {
  [P in keyof paths]: paths[P] extends {
    get: { responses: { 200: { content: { 'application/json': PagedBody } } } };
  }
    ? P
    : never;
}[keyof paths];

type GetOf<P extends PagedPath> = paths[P]['get'];
type BodyOf<P extends PagedPath> = GetOf<P>['responses'][200]['content']['application/json'];
/** The item type of a paged path. */
export type ItemOf<P extends PagedPath> = BodyOf<P>['data'][number];
type QueryOf<P extends PagedPath> = NonNullable<GetOf<P>['parameters']['query']>;
type PathParamsOf<P extends PagedPath> = GetOf<P>['parameters']['path'];

export interface PageOptions<P extends PagedPath> {
  /** The list's filters; the page number is the helper's. */
  query?: Omit<QueryOf<P>, 'page[number]'>;
  /** Path parameters, for nested lists such as /api/projects/{id}/access. */
  path?: PathParamsOf<P>;
}

/** Every page of a list, first to last (a page of `page[size]`, default 100, per request). */
export async function* pages<P extends PagedPath>(
  client: RosterClient,
  path: P,
  options: PageOptions<P> = {},
): AsyncGenerator<ItemOf<P>[], void, undefined> {
  let seen = 0;
  for (let number = 1; ; number++) {
    const init = {
      params: { query: { ...options.query, 'page[number]': number }, path: options.path },
    };
    // openapi-fetch types GET per literal path; for a path chosen by the caller the compiler
    // cannot pick the overload, so the call is made through a plain signature (the argument and
    // the answer are the generated types above).
    const get = client.GET as unknown as (
      path: string,
      init: unknown,
    ) => Promise<{ data?: PagedBody }>;
    const { data } = await get(path, init);
    if (data === undefined) return;
    const items = data.data as ItemOf<P>[];
    if (items.length === 0) return;
    yield items;
    seen += items.length;
    if (seen >= data.total || items.length < data.page.size) return;
  }
}

/** Every item of a list, across pages. */
export async function* items<P extends PagedPath>(
  client: RosterClient,
  path: P,
  options: PageOptions<P> = {},
): AsyncGenerator<ItemOf<P>, void, undefined> {
  for await (const page of pages(client, path, options)) yield* page;
}
