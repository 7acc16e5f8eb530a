/** API clients (tokens shown once) and the audit log (filters, names and links, CSV export by the server). */
import { useState, type SubmitEvent } from 'react';
import { buildPath, call, type ApiClient, type AuditEvent, type Query } from '../api/client';
import {
  Alert,
  Badge,
  ConfirmDialog,
  CopyField,
  Field,
  Modal,
  Page,
  RelativeTime,
} from '../components/ui';
import { ListView, useListControls } from '../components/list-view';
import { useAction, useApi } from '../hooks/use-api';
import { Link } from '../router';
import { useCanWrite, useSession } from '../session';

const PAGE_SIZE = 25;

function TokenOnce({
  client,
  onClose,
}: {
  client: ApiClient & { token: string };
  onClose: () => void;
}) {
  return (
    <Modal
      title={`Token for ${client.name}`}
      onClose={onClose}
      footer={
        <button type="button" className="button button-primary" onClick={onClose}>
          I have stored the token
        </button>
      }
    >
      <Alert tone="warning">
        This is the only time the token is shown. Roster stores only its hash.
      </Alert>
      <CopyField label="API token" value={client.token} copyLabel="Copy token" />
    </Modal>
  );
}

export function ApiClientsPage() {
  const { session } = useSession();
  const canWrite = useCanWrite();
  const [includeRevoked, setIncludeRevoked] = useState(false);
  // The sort orders the page shown, so it keeps the page.
  const controls = useListControls({ key: 'created', direction: 'desc' }, { sortKeepsPage: true });
  const [creating, setCreating] = useState(false);
  const [name, setName] = useState('');
  const [environments, setEnvironments] = useState<string[]>(session.writable_environment_types);
  const [shown, setShown] = useState<(ApiClient & { token: string }) | null>(null);
  const [revoking, setRevoking] = useState<ApiClient | null>(null);
  const list = useApi('listApiClients', {
    query: {
      include_revoked: includeRevoked,
      'page[number]': controls.page,
      'page[size]': PAGE_SIZE,
    },
  });
  const { pending, error, run } = useAction();
  const create = async (event: SubmitEvent) => {
    event.preventDefault();
    const result = await run(() =>
      call('createApiClient', {
        body: { name, environment_types: environments, project_ids: null },
      }),
    );
    if (result !== undefined) {
      setCreating(false);
      setName('');
      setShown(result.data);
      list.reload();
    }
  };
  const rotate = async (client: ApiClient) => {
    const result = await run(() => call('rotateApiClient', { params: { id: client.id } }));
    if (result !== undefined) {
      setShown(result.data);
      list.reload();
    }
  };
  const revoke = async () => {
    if (revoking === null) return;
    const result = await run(() => call('revokeApiClient', { params: { id: revoking.id } }));
    if (result !== undefined) {
      setRevoking(null);
      list.reload();
    }
  };
  return (
    <Page
      title="API clients"
      description="Tokens for scripts and services. A client can only manage the environments (and projects) it was given."
      actions={
        canWrite && (
          <button
            type="button"
            className="button button-primary"
            onClick={() => {
              setCreating(true);
            }}
          >
            Create API client
          </button>
        )
      }
    >
      <ListView
        controls={controls}
        toolbar={
          <label className="check-row">
            <input
              type="checkbox"
              checked={includeRevoked}
              onChange={(e) => {
                setIncludeRevoked(e.target.checked);
              }}
            />{' '}
            Show revoked clients
          </label>
        }
        beforeTable={error !== undefined && !creating && <Alert>{error}</Alert>}
        caption="API clients"
        rows={list.data?.data}
        total={list.data?.total}
        pageSize={PAGE_SIZE}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        rowKey={(c) => c.id}
        empty="No API clients."
        columns={[
          { key: 'name', header: 'Name', sort: (c) => c.name.toLowerCase(), render: (c) => c.name },
          {
            key: 'token',
            header: 'Token',
            render: (c) => <span className="mono">{c.token_prefix}…</span>,
          },
          {
            key: 'scope',
            header: 'Environments',
            render: (c) => c.environment_types.map((e) => e.toUpperCase()).join(', '),
          },
          {
            key: 'projects',
            header: 'Projects',
            render: (c) => (c.project_ids === null ? 'All' : c.project_ids.join(', ')),
          },
          {
            key: 'created',
            header: 'Created',
            sort: (c) => c.created_at,
            render: (c) => <RelativeTime iso={c.created_at} />,
          },
          {
            key: 'state',
            header: 'State',
            render: (c) =>
              c.revoked_at === null ? (
                <Badge tone="green">Active</Badge>
              ) : (
                <Badge tone="grey">Revoked</Badge>
              ),
          },
          {
            key: 'actions',
            header: <span className="visually-hidden">Actions</span>,
            className: 'cell-actions',
            render: (c) =>
              canWrite &&
              c.revoked_at === null && (
                <span className="button-row">
                  <button
                    type="button"
                    className="button button-small"
                    disabled={pending}
                    onClick={() => void rotate(c)}
                  >
                    Rotate
                  </button>
                  <button
                    type="button"
                    className="button button-small button-danger"
                    disabled={pending}
                    onClick={() => {
                      setRevoking(c);
                    }}
                  >
                    Revoke
                  </button>
                </span>
              ),
          },
        ]}
      />
      {creating && (
        <Modal
          title="Create API client"
          onClose={() => {
            setCreating(false);
          }}
        >
          <form className="form" onSubmit={(e) => void create(e)}>
            {error !== undefined && <Alert>{error}</Alert>}
            <Field label="Name">
              {(id) => (
                <input
                  id={id}
                  required
                  value={name}
                  onChange={(e) => {
                    setName(e.target.value);
                  }}
                />
              )}
            </Field>
            <fieldset>
              <legend>Environments it may manage</legend>
              {session.writable_environment_types.map((env) => (
                <label key={env} className="check-row">
                  <input
                    type="checkbox"
                    checked={environments.includes(env)}
                    onChange={() => {
                      setEnvironments(
                        environments.includes(env)
                          ? environments.filter((e) => e !== env)
                          : [...environments, env],
                      );
                    }}
                  />
                  {env.toUpperCase()}
                </label>
              ))}
            </fieldset>
            <div className="modal-footer">
              <button
                type="button"
                className="button"
                onClick={() => {
                  setCreating(false);
                }}
              >
                Cancel
              </button>
              <button
                type="submit"
                className="button button-primary"
                disabled={pending || environments.length === 0}
              >
                Create
              </button>
            </div>
          </form>
        </Modal>
      )}
      {shown !== null && (
        <TokenOnce
          client={shown}
          onClose={() => {
            setShown(null);
          }}
        />
      )}
      {revoking !== null && (
        <ConfirmDialog
          title={`Revoke ${revoking.name}?`}
          confirmLabel="Revoke"
          onConfirm={() => void revoke()}
          onCancel={() => {
            setRevoking(null);
          }}
          pending={pending}
        >
          <p>Requests with this token fail from now on. This cannot be undone.</p>
        </ConfirmDialog>
      )}
    </Page>
  );
}

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
    query: { ...query, 'page[number]': controls.page, 'page[size]': PAGE_SIZE },
  });
  // The server streams every matching event as formula-safe CSV (no page, no cap); the session
  // cookie authenticates the download.
  const exportHref = buildPath('/api/audit_events', {}, { ...query, format: 'csv' });
  const set = (key: keyof typeof filters) => (e: { target: { value: string } }) => {
    setFilters({ ...filters, [key]: e.target.value });
  };
  return (
    <Page
      title="Audit log"
      description="Every change, who made it and when, newest first."
      actions={
        <a className="button" href={exportHref} download>
          Export CSV
        </a>
      }
    >
      <ListView
        controls={controls}
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
              <Field label="Action">
                {(id) => (
                  <input
                    id={id}
                    placeholder="e.g. end_user.locked"
                    value={filters.action}
                    onChange={set('action')}
                  />
                )}
              </Field>
              <Field label="Actor type">
                {(id) => (
                  <select id={id} value={filters.actor_type} onChange={set('actor_type')}>
                    <option value="">Any</option>
                    {Object.entries(TYPE_LABELS).map(([value, label]) => (
                      <option key={value} value={value}>
                        {label}
                      </option>
                    ))}
                  </select>
                )}
              </Field>
              <Field label="Target type">
                {(id) => (
                  <input
                    id={id}
                    placeholder="e.g. end_user"
                    value={filters.target_type}
                    onChange={set('target_type')}
                  />
                )}
              </Field>
              <Field label="Since">
                {(id) => (
                  <input
                    id={id}
                    type="datetime-local"
                    value={filters.since}
                    onChange={set('since')}
                  />
                )}
              </Field>
              <Field label="Until">
                {(id) => (
                  <input
                    id={id}
                    type="datetime-local"
                    value={filters.until}
                    onChange={set('until')}
                  />
                )}
              </Field>
              <button type="submit" className="button button-primary">
                Apply filters
              </button>
            </form>
          </>
        }
        caption="Audit events"
        rows={list.data?.data}
        total={list.data?.total}
        pageSize={PAGE_SIZE}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
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
