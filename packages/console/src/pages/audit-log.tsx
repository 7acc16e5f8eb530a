/** The audit log: filters, the events and their targets, and the CSV and NDJSON exports. */
import { useState } from 'react';
import { buildPath, type AuditEvent, type Query } from '../api/client';
import { Modal, Page, RelativeTime } from '../components/ui';
import { SelectField, TextField } from '../components/fields';
import { ListView, useListControls } from '../components/list-view';
import { useApi } from '../hooks/use-api';
import { Link } from '../router';

/** Where the console shows each kind of audit target (kinds without a screen of their own: none). */
const TARGET_PAGES: Record<string, (id: string) => string> = {
  end_user: (id) => `/users/${id}`,
  end_user_group: (id) => `/groups/${id}`,
  feature: (id) => `/features/${id}`,
  project: (id) => `/projects/${id}`,
  member: () => '/collaborators',
  member_invitation: () => '/invitations',
  user_group: () => '/collaborator-groups',
  role: () => '/roles',
  api_client: () => '/api-clients',
  scim_connection: () => '/scim-connections',
  approval_request: () => '/approvals',
  policy: () => '/features',
};

const TYPE_LABELS: Record<string, string> = {
  member: 'Collaborator',
  api_client: 'API client',
  end_user: 'End user',
  scim_connection: 'SCIM connection',
  invitee: 'Invitee',
  system: 'System',
  platform: 'Platform',
};

const typeLabel = (type: string) => TYPE_LABELS[type] ?? type.replace(/_/g, ' ');

/** The target by the name it had when the event was written, linked to its screen. */
function AuditTarget({ target }: { target: AuditEvent['target'] }) {
  const label = target.name ?? (target.id === null ? '—' : `#${target.id}`);
  const page = target.id === null ? undefined : TARGET_PAGES[target.type]?.(target.id);
  return (
    <span>
      {page === undefined ? label : <Link to={page}>{label}</Link>}{' '}
      <span className="muted">({typeLabel(target.type)})</span>
    </span>
  );
}

export function AuditLogPage() {
  const [filters, setFilters] = useState({
    action: '',
    actor_type: '',
    target_type: '',
    since: '',
    until: '',
  });
  const [applied, setApplied] = useState(filters);
  const controls = useListControls();
  const [open, setOpen] = useState<AuditEvent | null>(null);
  const query: Query = {
    action: applied.action,
    actor_type: applied.actor_type,
    target_type: applied.target_type,
    since: applied.since === '' ? undefined : new Date(applied.since).toISOString(),
    until: applied.until === '' ? undefined : new Date(applied.until).toISOString(),
  };
  const list = useApi('listAuditEvents', {
    query: { ...query, ...controls.pageQuery },
  });
  // The server streams every matching event (no page, no cap) as formula-safe CSV or as one JSON
  // event a line; the browser only follows the link, and the session cookie authenticates it.
  const exportHref = (format: 'csv' | 'ndjson') =>
    buildPath('/api/audit_events', {}, { ...query, format });
  const set = (key: keyof typeof filters) => (value: string) => {
    setFilters({ ...filters, [key]: value });
  };
  return (
    <Page
      title="Audit log"
      description="Every change, who made it and when, newest first."
      actions={
        <>
          <a className="button" href={exportHref('csv')} download>
            Export CSV
          </a>
          <a className="button" href={exportHref('ndjson')} download>
            Export NDJSON
          </a>
        </>
      }
    >
      <ListView
        list={controls.of(list)}
        beforeTable={
          <>
            <form
              className="filters"
              onSubmit={(e) => {
                e.preventDefault();
                setApplied(filters);
                controls.setPage(1);
              }}
            >
              <TextField
                label="Action"
                placeholder="e.g. end_user.locked"
                value={filters.action}
                onChange={set('action')}
              />
              <SelectField
                label="Actor type"
                placeholder="Any"
                value={filters.actor_type}
                onChange={set('actor_type')}
                options={Object.entries(TYPE_LABELS).map(([value, label]) => ({ value, label }))}
              />
              <TextField
                label="Target type"
                placeholder="e.g. end_user"
                value={filters.target_type}
                onChange={set('target_type')}
              />
              <TextField
                label="Since"
                type="datetime-local"
                value={filters.since}
                onChange={set('since')}
              />
              <TextField
                label="Until"
                type="datetime-local"
                value={filters.until}
                onChange={set('until')}
              />
              <button type="submit" className="button button-primary">
                Apply filters
              </button>
            </form>
          </>
        }
        caption="Audit events"
        rowKey={(e) => e.id}
        empty="No events match these filters."
        columns={[
          { key: 'when', header: 'When', render: (e) => <RelativeTime iso={e.created_at} /> },
          {
            key: 'action',
            header: 'Action',
            render: (e) => (
              <button
                type="button"
                className="link-button mono"
                onClick={() => {
                  setOpen(e);
                }}
              >
                {e.action}
              </button>
            ),
          },
          {
            key: 'actor',
            header: 'Actor',
            render: (e) => (
              <span>
                {e.actor.name ?? e.actor.id ?? '—'}{' '}
                <span className="muted">({typeLabel(e.actor.type)})</span>
              </span>
            ),
          },
          {
            key: 'target',
            header: 'Target',
            render: (e) => <AuditTarget target={e.target} />,
          },
        ]}
      />
      {open !== null && (
        <Modal
          title={open.action}
          onClose={() => {
            setOpen(null);
          }}
          wide
        >
          <dl className="facts">
            <dt>When</dt>
            <dd>{new Date(open.created_at).toLocaleString()}</dd>
            <dt>Actor</dt>
            <dd>
              {open.actor.name} ({open.actor.type} {open.actor.id})
            </dd>
            <dt>Target</dt>
            <dd>
              <AuditTarget target={open.target} />{' '}
              {open.target.id !== null && <span className="muted mono">ID {open.target.id}</span>}
            </dd>
          </dl>
          <h3>Before</h3>
          <pre className="code">{JSON.stringify(open.before, null, 2)}</pre>
          <h3>After</h3>
          <pre className="code">{JSON.stringify(open.after, null, 2)}</pre>
        </Modal>
      )}
    </Page>
  );
}
