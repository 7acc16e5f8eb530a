/**
 * The list screens' shared scaffolding: search box (debounced, back to page 1 on every change),
 * sortable table with loading, empty and error states, and pagination. A screen keeps its list's
 * state in one value: `useListControls` holds what the user chose (search, sort, page) and
 * `controls.of(api)` joins it to what the server answered, for `<ListView list={…}>`. Lists the
 * server pages pass the current page and its total; lists loaded whole (a few rows) page
 * themselves with `useLocalRows`. Lists that search or sort only the page shown keep their page
 * when the search or the sort changes (`useListControls` options).
 */
import { useState, type ReactNode } from 'react';
import type { ApiState } from '../hooks/use-api';
import { DataTable, Pagination, SearchBox, useDebounced, type Column, type Sort } from './ui';

/** Every list screen shows 25 rows a page. */
export const PAGE_SIZE = 25;

export interface ListControls {
  /** What the search box shows. */
  search: string;
  setSearch: (value: string) => void;
  /** The search text once typing pauses: what queries use. */
  query: string;
  page: number;
  setPage: (page: number) => void;
  /** Undefined for a list without sortable columns. */
  sort: Sort | undefined;
  setSort: (sort: Sort) => void;
  pageSize: number;
  /** The page query parameters the server's paged lists take. */
  pageQuery: { 'page[number]': number; 'page[size]': number };
  /**
   * The list state `ListView` shows: these controls with the rows of a paged answer, or the rows
   * given (a page filtered or cut on this side) with their total.
   */
  of: {
    <T>(api: ApiState<{ data: T[]; total: number }>): ListState<T>;
    <T>(
      api: ApiState<unknown>,
      shown: { rows: T[] | undefined; total: number | undefined },
    ): ListState<T>;
  };
}

/** One list's state: what the user chose and what the server answered. */
export interface ListState<T> {
  controls: ListControls;
  rows: T[] | undefined;
  /** How many rows match in all; no pagination without it (still loading, or failed). */
  total: number | undefined;
  loading: boolean;
  error: string | undefined;
  reload: () => void;
}

export function useListControls(
  initialSort?: Sort,
  options: {
    /** The search filters only the page shown, so a change keeps the page. */
    searchKeepsPage?: boolean;
    /** The sort orders only the page shown, so a change keeps the page. */
    sortKeepsPage?: boolean;
  } = {},
): ListControls {
  const [search, setSearchText] = useState('');
  const query = useDebounced(search);
  const [page, setPage] = useState(1);
  const [sort, setSortState] = useState<Sort | undefined>(initialSort);
  function of<T>(api: ApiState<{ data: T[]; total: number }>): ListState<T>;
  function of<T>(
    api: ApiState<unknown>,
    shown: { rows: T[] | undefined; total: number | undefined },
  ): ListState<T>;
  function of<T>(
    api: ApiState<unknown>,
    shown?: { rows: T[] | undefined; total: number | undefined },
  ): ListState<T> {
    // Without `shown`, the first overload says the answer is a paged list of T.
    const paged = api.data as { data: T[]; total: number } | undefined;
    return {
      controls,
      rows: shown === undefined ? paged?.data : shown.rows,
      total: shown === undefined ? paged?.total : shown.total,
      loading: api.loading,
      error: api.error,
      reload: api.reload,
    };
  }
  const controls: ListControls = {
    search,
    setSearch: (value) => {
      setSearchText(value);
      if (options.searchKeepsPage !== true) setPage(1);
    },
    query,
    page,
    setPage,
    sort,
    setSort: (next) => {
      setSortState(next);
      if (options.sortKeepsPage !== true) setPage(1);
    },
    pageSize: PAGE_SIZE,
    pageQuery: { 'page[number]': page, 'page[size]': PAGE_SIZE },
    of,
  };
  return controls;
}

/**
 * A list loaded whole, filtered by the search text, sorted by the sort column's value and cut to
 * the current page: the same behaviour as a server-paged list.
 */
export function useLocalRows<T>(
  rows: T[] | undefined,
  columns: Column<T>[],
  controls: ListControls,
  options: { matches: (row: T, query: string) => boolean },
): { rows: T[] | undefined; total: number } {
  if (rows === undefined) return { rows: undefined, total: 0 };
  const query = controls.query.trim().toLowerCase();
  let shown = query === '' ? rows : rows.filter((row) => options.matches(row, query));
  const sort = controls.sort;
  const column = columns.find((c) => c.key === sort?.key);
  if (sort !== undefined && column !== undefined && typeof column.sort === 'function') {
    const value = column.sort;
    const direction = sort.direction === 'asc' ? 1 : -1;
    shown = [...shown].sort((a, b) => {
      const x = value(a);
      const y = value(b);
      const order =
        typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return order * direction;
    });
  }
  const start = (controls.page - 1) * controls.pageSize;
  return { rows: shown.slice(start, start + controls.pageSize), total: shown.length };
}

export function ListView<T>({
  list,
  searchLabel,
  toolbar,
  beforeTable,
  caption,
  pagesLabel = caption,
  columns,
  rowKey,
  empty,
}: {
  list: ListState<T>;
  /** The search box's label; no search box without it. */
  searchLabel?: string;
  /** More filters, after the search box. */
  toolbar?: ReactNode;
  /** Shown after the toolbar, before the table: notices, errors of row actions, a filter form. */
  beforeTable?: ReactNode;
  caption: string;
  /** Names the pagination (`… pages`); the caption unless given. */
  pagesLabel?: string;
  columns: Column<T>[];
  rowKey: (row: T) => string | number;
  empty: ReactNode;
}) {
  const { controls, rows, total, loading, error } = list;
  return (
    <>
      {(searchLabel !== undefined || toolbar !== undefined) && (
        <div className="toolbar">
          {searchLabel !== undefined && (
            <SearchBox label={searchLabel} value={controls.search} onChange={controls.setSearch} />
          )}
          {toolbar}
        </div>
      )}
      {beforeTable}
      <DataTable
        caption={caption}
        rows={rows}
        loading={loading}
        error={error}
        onRetry={list.reload}
        rowKey={rowKey}
        sort={controls.sort}
        onSort={controls.setSort}
        empty={empty}
        columns={columns}
      />
      {total !== undefined && error === undefined && (
        <Pagination
          label={pagesLabel}
          page={controls.page}
          size={controls.pageSize}
          total={total}
          onPage={controls.setPage}
        />
      )}
    </>
  );
}
