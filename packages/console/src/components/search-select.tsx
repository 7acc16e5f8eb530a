/**
 * Choosing one row of a list that may be long (collaborators, groups, projects, end users): a
 * search box that asks the server for the first matches as the user types, and a select of them.
 * A select of a list's first page would leave every later row out of reach; the server filters
 * each of these lists (`email` or `name`, a contains match), so typing narrows to any row.
 */
import { useState, type KeyboardEvent, type ReactNode } from 'react';
import type { OperationName, Query, ResponseOf } from '../api/client';
import { useApi } from '../hooks/use-api';
import { Field, useDebounced } from './ui';

/** How many matches a picker shows: enough to scroll through, few enough to load at once. */
export const SEARCH_SIZE = 50;

/** The operations that answer a paged list (`{data, total, page}`). */
export type PagedOperation = {
  [N in OperationName]: ResponseOf<N> extends { data: readonly unknown[]; total: number }
    ? N
    : never;
}[OperationName];

/** One row of a paged operation's answer. */
export type RowOf<N extends PagedOperation> =
  ResponseOf<N> extends { data: readonly (infer R)[] } ? R : never;

/** An option of a picker: the value the form sends and the text the user reads. */
export interface Choice {
  value: string;
  label: string;
}

/** What a search has found so far, for `searchStatus`. */
export interface SearchResult {
  /** The text searched for, trimmed. */
  text: string;
  /** How many matches are shown. */
  shown: number;
  /** How many the server has in all; undefined before its first answer. */
  total: number | undefined;
  loading: boolean;
  error: string | undefined;
}

/**
 * The line under a search picker: loading, the error, no match, or that more match than are
 * shown (the only way to reach those is to type more of the name).
 */
export function searchStatus(result: SearchResult, noun: string): string {
  if (result.error !== undefined) return `Could not load ${noun}: ${result.error}`;
  if (result.loading) return 'Loading…';
  if (result.total === undefined) return '';
  if (result.total === 0)
    return result.text === '' ? `No ${noun} yet.` : `No ${noun} match “${result.text}”.`;
  if (result.total > result.shown)
    return `Showing ${result.shown} of ${result.total} — type to narrow.`;
  return '';
}

/**
 * Enter in a search box inside a form would submit the form (with nothing chosen yet, or the
 * previous choice); the search runs as the user types, so Enter has nothing to do.
 */
function keepEnterFromSubmitting(event: KeyboardEvent<HTMLInputElement>): void {
  if (event.key === 'Enter') event.preventDefault();
}

/**
 * The search box of a picker (labelled by the caller): what is typed is sent to the server as a
 * list's filter as the user types.
 */
export function PickerSearch({
  id,
  placeholder,
  value,
  onChange,
}: {
  id: string;
  placeholder: string;
  value: string;
  onChange: (value: string) => void;
}) {
  return (
    <input
      id={id}
      type="search"
      placeholder={placeholder}
      // The longest filter the lists take is 200 characters (a name); longer is a 400.
      maxLength={200}
      autoComplete="off"
      value={value}
      onChange={(e) => {
        onChange(e.target.value);
      }}
      onKeyDown={keepEnterFromSubmitting}
    />
  );
}

/**
 * A labelled single choice among the rows of one of the server's paged lists, found by search:
 * `query` turns the text typed into the list's filter (`{ email: text }`, `{ name: text }`, with
 * any other parameter the list needs), `option` turns a row into a choice. The select is what
 * `label` names (and what the form validates when `required`); the search box is named by
 * `searchLabel`. The value chosen stays chosen, its label shown, when a later search no longer
 * lists it.
 */
export function SearchSelectField<N extends PagedOperation>({
  label,
  searchLabel,
  noun,
  operation,
  query,
  option,
  value,
  onChange,
  required,
  hint,
  placeholder = 'Choose…',
  searchPlaceholder = searchLabel,
}: {
  label: string;
  searchLabel: string;
  /** What the rows are, plural and lower case (`collaborators`): for "No collaborators match". */
  noun: string;
  operation: N;
  query: (text: string) => Query;
  option: (row: RowOf<N>) => Choice;
  value: string;
  onChange: (value: string) => void;
  required?: boolean;
  hint?: ReactNode;
  /** The first option, with the empty value: nothing chosen yet. */
  placeholder?: string;
  /** Shorter than `searchLabel` where the field is narrow (an inline form). */
  searchPlaceholder?: string;
}) {
  const [search, setSearch] = useState('');
  const text = useDebounced(search.trim());
  // The label of the value chosen, for when the matches of a later search leave it out.
  const [chosen, setChosen] = useState<Choice | undefined>();
  const api = useApi(operation, { query: { ...query(text), 'page[size]': SEARCH_SIZE } });
  // The operation is one of the paged lists (PagedOperation), so its answer is a page of its rows;
  // TypeScript cannot see through ResponseOf for a generic operation.
  const page = api.data as { data: RowOf<N>[]; total: number } | undefined;
  const options = (page?.data ?? []).map(option);
  const kept =
    value === '' || options.some((o) => o.value === value)
      ? undefined
      : chosen?.value === value
        ? chosen
        : { value, label: value };
  const listed = kept === undefined ? options : [kept, ...options];
  const status = searchStatus(
    {
      text,
      shown: options.length,
      total: page?.total,
      // Typing has not paused yet: the matches shown are those of the text before.
      loading: api.loading || text !== search.trim(),
      error: api.error,
    },
    noun,
  );
  return (
    <Field label={label} hint={hint}>
      {(id) => (
        <div className="search-select">
          <label htmlFor={`${id}-search`} className="visually-hidden">
            {searchLabel}
          </label>
          <PickerSearch
            id={`${id}-search`}
            placeholder={searchPlaceholder}
            value={search}
            onChange={setSearch}
          />
          <select
            id={id}
            required={required}
            value={value}
            aria-describedby={`${id}-status`}
            onChange={(e) => {
              const next = e.target.value;
              setChosen(listed.find((o) => o.value === next));
              onChange(next);
            }}
          >
            <option value="">{placeholder}</option>
            {listed.map((o) => (
              <option key={o.value} value={o.value}>
                {o.label}
              </option>
            ))}
          </select>
          <p id={`${id}-status`} className="hint" aria-live="polite">
            {status}
          </p>
        </div>
      )}
    </Field>
  );
}
