import { PAGE_SIZE_MAX } from '@roster/contracts';

export interface PageRequest {
  number: number;
  size: number;
  offset: number;
}

/** Reads the reference API's `page[number]` / `page[size]` keys (already validated by the schema). */
export function pageRequest(query: {
  'page[number]'?: number;
  'page[size]'?: number;
}): PageRequest {
  const number = query['page[number]'] ?? 1;
  const size = Math.min(query['page[size]'] ?? PAGE_SIZE_MAX, PAGE_SIZE_MAX);
  return { number, size, offset: (number - 1) * size };
}

export interface Paged<T> {
  data: T[];
  total: number;
  page: { number: number; size: number };
}

export function paged<T>(data: T[], total: number, page: PageRequest): Paged<T> {
  return { data, total, page: { number: page.number, size: page.size } };
}

/** Escapes LIKE wildcards in user input; queries use `escape '\'`. */
export function likeContains(value: string): string {
  return `%${value.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
