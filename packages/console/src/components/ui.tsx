/** The console's building blocks: tables with search, sort and pages; dialogs; badges; menus. */
import {
  useEffect,
  useId,
  useRef,
  useState,
  type KeyboardEvent as ReactKeyboardEvent,
  type ReactNode,
} from 'react';

export function Page({
  title,
  description,
  actions,
  children,
  back,
}: {
  title: string;
  description?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  back?: ReactNode;
}) {
  useEffect(() => {
    document.title = `${title} · Roster`;
  }, [title]);
  return (
    <section className="page" aria-labelledby="page-title">
      {back}
      <header className="page-header">
        <div>
          <h1 id="page-title">{title}</h1>
          {description !== undefined && <p className="muted">{description}</p>}
        </div>
        {actions !== undefined && <div className="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export type Tone = 'green' | 'red' | 'amber' | 'blue' | 'grey' | 'purple';
export function Badge({ tone = 'grey', children }: { tone?: Tone; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

const AVATAR_COLOURS = [
  '#1f6feb',
  '#8250df',
  '#bf3989',
  '#cf222e',
  '#9a6700',
  '#1a7f37',
  '#0969da',
  '#6639ba',
];
export function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  const letters =
    parts.length > 1
      ? `${parts[0]?.[0] ?? ''}${parts[parts.length - 1]?.[0] ?? ''}`
      : (parts[0]?.slice(0, 2) ?? '?');
  return letters.toUpperCase();
}
export function Avatar({
  name,
  url,
  size = 32,
}: {
  name: string;
  url?: string | null;
  size?: number;
}) {
  const colour =
    AVATAR_COLOURS[
      Array.from(name).reduce((sum, c) => sum + c.charCodeAt(0), 0) % AVATAR_COLOURS.length
    ];
  if (url !== undefined && url !== null && url !== '') {
    return <img className="avatar" src={url} alt="" width={size} height={size} />;
  }
  return (
    <span
      className="avatar"
      aria-hidden="true"
      style={{ background: colour, width: size, height: size, fontSize: size * 0.4 }}
    >
      {initials(name)}
    </span>
  );
}

export function relativeTime(iso: string, now = Date.now()): string {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  const format = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
  if (abs < 60) return format.format(seconds, 'second');
  if (abs < 3600) return format.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return format.format(Math.round(seconds / 3600), 'hour');
  if (abs < 86400 * 30) return format.format(Math.round(seconds / 86400), 'day');
  if (abs < 86400 * 365) return format.format(Math.round(seconds / (86400 * 30)), 'month');
  return format.format(Math.round(seconds / (86400 * 365)), 'year');
}
export function RelativeTime({ iso }: { iso: string | null | undefined }) {
  if (iso === null || iso === undefined) return <span className="muted">—</span>;
  return (
    <time dateTime={iso} title={new Date(iso).toLocaleString()}>
      {relativeTime(iso)}
    </time>
  );
}

export function Alert({
  tone = 'error',
  children,
}: {
  tone?: 'error' | 'warning' | 'info' | 'success';
  children: ReactNode;
}) {
  return (
    <div className={`alert alert-${tone}`} role={tone === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

export function SearchBox({
  label,
  value,
  onChange,
  placeholder,
}: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  placeholder?: string;
}) {
  const id = useId();
  return (
    <div className="search">
      <label htmlFor={id} className="visually-hidden">
        {label}
      </label>
      <input
        id={id}
        type="search"
        placeholder={placeholder ?? label}
        value={value}
        onChange={(e) => {
          onChange(e.target.value);
        }}
      />
    </div>
  );
}

/** The search text, delayed so typing does not send a request per key. */
export function useDebounced<T>(value: T, ms = 250): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => {
      setDebounced(value);
    }, ms);
    return () => {
      clearTimeout(timer);
    };
  }, [value, ms]);
  return debounced;
}

export interface Sort {
  key: string;
  direction: 'asc' | 'desc';
}

export interface Column<T> {
  key: string;
  header: ReactNode;
  render: (row: T) => ReactNode;
  /** Sortable columns: a value to sort this page by (client side), or true when the server sorts. */
  sort?: ((row: T) => string | number) | true;
  className?: string;
}

export function DataTable<T>({
  caption,
  columns,
  rows,
  rowKey,
  loading,
  error,
  onRetry,
  empty,
  sort,
  onSort,
}: {
  caption: string;
  columns: Column<T>[];
  rows: T[] | undefined;
  rowKey: (row: T) => string | number;
  loading?: boolean;
  error?: string | undefined;
  onRetry?: () => void;
  empty: ReactNode;
  sort?: Sort | undefined;
  onSort?: (sort: Sort) => void;
}) {
  let shown = rows ?? [];
  const sortColumn = columns.find((c) => c.key === sort?.key);
  if (sort !== undefined && sortColumn !== undefined && typeof sortColumn.sort === 'function') {
    const value = sortColumn.sort;
    shown = [...shown].sort((a, b) => {
      const x = value(a);
      const y = value(b);
      const order =
        typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return sort.direction === 'asc' ? order : -order;
    });
  }
  if (error !== undefined) {
    return (
      <div className="state state-error" role="alert">
        <strong>Could not load {caption.toLowerCase()}.</strong> <span>{error}</span>
        {onRetry !== undefined && (
          <button type="button" className="button" onClick={onRetry}>
            Try again
          </button>
        )}
      </div>
    );
  }
  return (
    <div className="table-wrap" aria-busy={loading === true}>
      <table>
        <caption className="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((column) => {
              const active = sort?.key === column.key;
              const ariaSort = active
                ? sort.direction === 'asc'
                  ? 'ascending'
                  : 'descending'
                : undefined;
              return (
                <th key={column.key} scope="col" aria-sort={ariaSort} className={column.className}>
                  {column.sort !== undefined && onSort !== undefined ? (
                    <button
                      type="button"
                      className="sort"
                      onClick={() => {
                        onSort({
                          key: column.key,
                          direction: active && sort.direction === 'asc' ? 'desc' : 'asc',
                        });
                      }}
                    >
                      {column.header}
                      <span aria-hidden="true" className="sort-mark">
                        {active ? (sort.direction === 'asc' ? '▲' : '▼') : '↕'}
                      </span>
                    </button>
                  ) : (
                    column.header
                  )}
                </th>
              );
            })}
          </tr>
        </thead>
        <tbody>
          {rows === undefined && loading === true ? (
            <tr>
              <td colSpan={columns.length} className="state">
                Loading…
              </td>
            </tr>
          ) : shown.length === 0 ? (
            <tr>
              <td colSpan={columns.length} className="state">
                {empty}
              </td>
            </tr>
          ) : (
            shown.map((row) => (
              <tr key={rowKey(row)}>
                {columns.map((column) => (
                  <td key={column.key} className={column.className}>
                    {column.render(row)}
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

export function Pagination({
  page,
  size,
  total,
  onPage,
  label,
}: {
  page: number;
  size: number;
  total: number;
  onPage: (page: number) => void;
  label: string;
}) {
  const first = total === 0 ? 0 : (page - 1) * size + 1;
  const last = Math.min(total, page * size);
  const pages = Math.max(1, Math.ceil(total / size));
  return (
    <nav className="pagination" aria-label={`${label} pages`}>
      <span className="muted" aria-live="polite">
        {total === 0 ? 'No results' : `${first}–${last} of ${total}`}
      </span>
      <button
        type="button"
        className="button"
        disabled={page <= 1}
        onClick={() => {
          onPage(page - 1);
        }}
      >
        Previous
      </button>
      <span className="muted">
        Page {page} of {pages}
      </span>
      <button
        type="button"
        className="button"
        disabled={page >= pages}
        onClick={() => {
          onPage(page + 1);
        }}
      >
        Next
      </button>
    </nav>
  );
}

export function Modal({
  title,
  onClose,
  children,
  footer,
  wide,
}: {
  title: string;
  onClose: () => void;
  children: ReactNode;
  footer?: ReactNode;
  wide?: boolean;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const titleId = useId();
  useEffect(() => {
    const previous = document.activeElement as HTMLElement | null;
    const focusable = ref.current?.querySelector<HTMLElement>(
      'input, select, textarea, button:not(.modal-close)',
    );
    (focusable ?? ref.current)?.focus();
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') onClose();
      if (event.key === 'Tab' && ref.current !== null) {
        // Keep focus inside the dialog.
        const items = [
          ...ref.current.querySelectorAll<HTMLElement>(
            'a[href], button:not([disabled]), input:not([disabled]), select, textarea, [tabindex="0"]',
          ),
        ];
        const firstItem = items[0];
        const lastItem = items[items.length - 1];
        if (firstItem === undefined || lastItem === undefined) return;
        if (event.shiftKey && document.activeElement === firstItem) {
          event.preventDefault();
          lastItem.focus();
        } else if (!event.shiftKey && document.activeElement === lastItem) {
          event.preventDefault();
          firstItem.focus();
        }
      }
    };
    document.addEventListener('keydown', onKey);
    return () => {
      document.removeEventListener('keydown', onKey);
      previous?.focus();
    };
    // No dependencies on purpose: this runs once per opening (focus trap and the focus to give back).
  }, []);
  return (
    <div
      className="backdrop"
      onMouseDown={(e) => {
        if (e.target === e.currentTarget) onClose();
      }}
    >
      <div
        className={`modal${wide === true ? ' modal-wide' : ''}`}
        role="dialog"
        aria-modal="true"
        aria-labelledby={titleId}
        ref={ref}
        tabIndex={-1}
      >
        <header className="modal-header">
          <h2 id={titleId}>{title}</h2>
          <button
            type="button"
            className="icon-button modal-close"
            aria-label="Close"
            onClick={onClose}
          >
            ×
          </button>
        </header>
        <div className="modal-body">{children}</div>
        {footer !== undefined && <footer className="modal-footer">{footer}</footer>}
      </div>
    </div>
  );
}

/**
 * A panel that opens below its button (a menu, a dropdown): open state, the element that holds
 * both, focus to `focusSelector` once open, and closing on a click outside.
 */
export function usePopover(focusSelector: string) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    ref.current?.querySelector<HTMLElement>(focusSelector)?.focus();
    const onDown = (event: MouseEvent) => {
      if (ref.current !== null && !ref.current.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    return () => {
      document.removeEventListener('mousedown', onDown);
    };
  }, [open, focusSelector]);
  return { open, setOpen, ref };
}

export function RowMenu({
  label,
  items,
}: {
  label: string;
  items: { label: string; onSelect: () => void; danger?: boolean; disabled?: boolean }[];
}) {
  const { open, setOpen, ref } = usePopover('[role="menuitem"]');
  const menuId = useId();
  const onKeyDown = (event: ReactKeyboardEvent) => {
    const entries = [...(ref.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [])];
    const index = entries.indexOf(document.activeElement as HTMLElement);
    if (event.key === 'Escape') {
      setOpen(false);
      ref.current?.querySelector<HTMLElement>('button')?.focus();
    } else if (event.key === 'ArrowDown') {
      event.preventDefault();
      entries[(index + 1) % entries.length]?.focus();
    } else if (event.key === 'ArrowUp') {
      event.preventDefault();
      entries[(index - 1 + entries.length) % entries.length]?.focus();
    }
  };
  return (
    <div className="menu" ref={ref} onKeyDown={onKeyDown}>
      <button
        type="button"
        className="icon-button"
        aria-label={label}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={menuId}
        onClick={() => {
          setOpen(!open);
        }}
      >
        ⋯
      </button>
      {open && (
        <div className="menu-items" role="menu" id={menuId}>
          {items.map((item) => (
            <button
              key={item.label}
              type="button"
              role="menuitem"
              className={item.danger === true ? 'danger' : undefined}
              disabled={item.disabled}
              onClick={() => {
                setOpen(false);
                item.onSelect();
              }}
            >
              {item.label}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}

/** Tab labels as element IDs (no spaces): `End user access` → `end-user-access`. */
export const tabId = (tab: string) => tab.toLowerCase().replace(/[^a-z0-9]+/g, '-');

export function Tabs({
  tabs,
  active,
  onChange,
  label,
}: {
  tabs: string[];
  active: string;
  onChange: (tab: string) => void;
  label: string;
}) {
  return (
    <div className="tabs" role="tablist" aria-label={label}>
      {tabs.map((tab) => (
        <button
          key={tab}
          type="button"
          role="tab"
          id={`tab-${tabId(tab)}`}
          aria-selected={tab === active}
          aria-controls={`panel-${tabId(tab)}`}
          tabIndex={tab === active ? 0 : -1}
          onClick={() => {
            onChange(tab);
          }}
          onKeyDown={(event) => {
            const index = tabs.indexOf(tab);
            if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
              const next =
                tabs[(index + (event.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length] ??
                tab;
              onChange(next);
              document.getElementById(`tab-${tabId(next)}`)?.focus();
            }
          }}
        >
          {tab}
        </button>
      ))}
    </div>
  );
}

export function TabPanel({ tab, children }: { tab: string; children: ReactNode }) {
  return (
    <div role="tabpanel" id={`panel-${tabId(tab)}`} aria-labelledby={`tab-${tabId(tab)}`}>
      {children}
    </div>
  );
}

export function Field({
  label,
  hint,
  children,
  id,
}: {
  label: string;
  hint?: ReactNode;
  children: (id: string) => ReactNode;
  id?: string;
}) {
  const generated = useId();
  const fieldId = id ?? generated;
  return (
    <div className="field">
      <label htmlFor={fieldId}>{label}</label>
      {children(fieldId)}
      {hint !== undefined && <p className="hint">{hint}</p>}
    </div>
  );
}

/** A multi-select list with its own search: the Assign Users panel and the feature access picker. */
export function PickList<T>({
  label,
  items,
  itemKey,
  render,
  selected,
  onChange,
  search,
  onSearch,
  emptyText,
}: {
  label: string;
  items: T[];
  itemKey: (item: T) => string;
  render: (item: T) => ReactNode;
  selected: string[];
  onChange: (selected: string[]) => void;
  search: string;
  onSearch: (value: string) => void;
  emptyText: string;
}) {
  return (
    <fieldset className="picklist">
      <legend>{label}</legend>
      <SearchBox label={`Search ${label.toLowerCase()}`} value={search} onChange={onSearch} />
      <ul>
        {items.length === 0 && <li className="muted state">{emptyText}</li>}
        {items.map((item) => {
          const key = itemKey(item);
          const checked = selected.includes(key);
          return (
            <li key={key}>
              <label className="check-row">
                <input
                  type="checkbox"
                  checked={checked}
                  onChange={() => {
                    onChange(checked ? selected.filter((s) => s !== key) : [...selected, key]);
                  }}
                />
                {render(item)}
              </label>
            </li>
          );
        })}
      </ul>
      <p className="muted" aria-live="polite">
        {selected.length} selected
      </p>
    </fieldset>
  );
}

export function Person({
  name,
  email,
  avatarUrl,
}: {
  name: string;
  email?: string;
  avatarUrl?: string | null;
}) {
  return (
    <span className="person">
      <Avatar name={name} url={avatarUrl} />
      <span>
        <span className="person-name">{name}</span>
        {email !== undefined && <span className="muted person-email">{email}</span>}
      </span>
    </span>
  );
}

/** Copies a value to the clipboard; says "Copied" once done. */
export function CopyButton({
  value,
  children,
  label,
  small,
}: {
  value: string;
  children: ReactNode;
  /** The accessible name when the visible text is not enough (several buttons on a page). */
  label?: string;
  small?: boolean;
}) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className={small === true ? 'button button-small' : 'button'}
      aria-label={label}
      onClick={() => {
        // The DOM types say `clipboard` is always there, but browsers leave it undefined outside
        // secure contexts (a console served over plain HTTP on a LAN address).
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
        void navigator.clipboard?.writeText(value).then(() => {
          setCopied(true);
        });
      }}
    >
      {copied ? 'Copied' : children}
    </button>
  );
}

/**
 * A read-only value with a copy button: tokens shown once, base URLs. The button's name says
 * what it copies, so two of them in one dialog stay distinguishable.
 */
export function CopyField({
  label,
  value,
  copyLabel,
  hint,
}: {
  label: string;
  value: string;
  copyLabel: string;
  hint?: ReactNode;
}) {
  return (
    <Field label={label} hint={hint}>
      {(id) => (
        <div className="copy-field">
          <input
            id={id}
            readOnly
            className="mono"
            value={value}
            onFocus={(e) => {
              e.target.select();
            }}
          />
          <CopyButton value={value}>{copyLabel}</CopyButton>
        </div>
      )}
    </Field>
  );
}

/**
 * The button that opens a page's or a toolbar's dialog (`New policy`, `Add user`): `onOpen(true)`
 * on a click, typically a dialog's `useState` setter. Not shown where the user may not write.
 */
export function OpenButton({
  show = true,
  onOpen,
  children,
}: {
  show?: boolean;
  onOpen: (open: true) => void;
  children: ReactNode;
}) {
  if (!show) return null;
  return (
    <button
      type="button"
      className="button button-primary"
      onClick={() => {
        onOpen(true);
      }}
    >
      {children}
    </button>
  );
}

/**
 * A table's last column with one small button a row (`Revoke`, `Delete`), its header for screen
 * readers only; no button where the user may not write.
 */
export function buttonColumn<T>({
  key,
  label,
  show,
  disabled,
  onClick,
}: {
  key: string;
  label: string;
  show: boolean;
  disabled: boolean;
  /** The row's action; a promise it returns is not awaited (the action tracks its own state). */
  onClick: (row: T) => unknown;
}): Column<T> {
  return {
    key,
    header: <span className="visually-hidden">{label}</span>,
    className: 'cell-menu',
    render: (row) =>
      show && (
        <button
          type="button"
          className="button button-small"
          disabled={disabled}
          onClick={() => {
            void onClick(row);
          }}
        >
          {label}
        </button>
      ),
  };
}
