/** End users: the directory (search, sort, lock) and one user's detail (environments, groups, access, activity). */
import { useState, type SubmitEvent } from 'react';
import { call, type EndUser } from '../api/client';
import {
  Alert,
  Avatar,
  Badge,
  DataTable,
  Field,
  Modal,
  Page,
  RelativeTime,
  RowMenu,
  type Tone,
} from '../components/ui';
import { ListView, useListControls } from '../components/list-view';
import { useAction, useApi } from '../hooks/use-api';
import { Link, useRouter } from '../router';
import { useCanWrite, useSession } from '../session';

const PAGE_SIZE = 25;
export const STATUS_TONE: Record<string, Tone> = {
  active: 'green',
  locked: 'red',
  invited: 'blue',
  deactivated: 'grey',
};
export const statusLabel = (status: string) => status.charAt(0).toUpperCase() + status.slice(1);

export function LockDialog({
  user,
  onClose,
  onDone,
}: {
  user: Pick<EndUser, 'id' | 'name' | 'status'>;
  onClose: () => void;
  onDone: () => void;
}) {
  const { pending, error, run } = useAction();
  const locking = user.status !== 'locked';
  const confirm = async () => {
    const result = await run(() =>
      call(locking ? 'lockEndUser' : 'unlockEndUser', { params: { id: user.id } }),
    );
    if (result !== undefined) onDone();
  };
  return (
    <Modal
      title={locking ? `Lock ${user.name}?` : `Unlock ${user.name}?`}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="button"
            className={`button ${locking ? 'button-danger' : 'button-primary'}`}
            disabled={pending}
            onClick={() => void confirm()}
          >
            {locking ? 'Lock user' : 'Unlock user'}
          </button>
        </>
      }
    >
      {error !== undefined && <Alert>{error}</Alert>}
      {locking ? (
        <p>
          Locking takes effect on the next access decision: every feature and tool is denied for{' '}
          {user.name}, whatever the policies say, and their AI agents can no longer act for them.
          Their groups, grants and history stay as they are for the investigation; unlocking
          restores them.
        </p>
      ) : (
        <p>
          Unlocking lets {user.name}’s groups, feature grants and policies apply again from the next
          decision.
        </p>
      )}
    </Modal>
  );
}

function AddUserDialog({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const { session } = useSession();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [mode, setMode] = useState<'invite' | 'create'>('invite');
  const [environments, setEnvironments] = useState<string[]>(['dev']);
  const { pending, error, run } = useAction();
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const body = { name, email, environment_types: environments };
    const result = await run(() =>
      mode === 'invite' ? call('inviteEndUser', { body }) : call('createEndUser', { body }),
    );
    if (result !== undefined) onDone();
  };
  return (
    <Modal title="Add user" onClose={onClose}>
      <form className="form" onSubmit={(e) => void submit(e)}>
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
        <Field label="Email address">
          {(id) => (
            <input
              id={id}
              type="email"
              required
              value={email}
              onChange={(e) => {
                setEmail(e.target.value);
              }}
            />
          )}
        </Field>
        <fieldset>
          <legend>Environments</legend>
          {session.environment_types.map((env) => (
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
        <fieldset>
          <legend>How</legend>
          <label className="check-row">
            <input
              type="radio"
              name="mode"
              checked={mode === 'invite'}
              onChange={() => {
                setMode('invite');
              }}
            />{' '}
            Send an invitation (the user accepts by mail)
          </label>
          <label className="check-row">
            <input
              type="radio"
              name="mode"
              checked={mode === 'create'}
              onChange={() => {
                setMode('create');
              }}
            />{' '}
            Add directly (active at once)
          </label>
        </fieldset>
        <div className="modal-footer">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button-primary" disabled={pending}>
            Add user
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function UsersPage() {
  const controls = useListControls({ key: 'created_at', direction: 'desc' });
  const email = controls.query;
  const [locking, setLocking] = useState<EndUser | null>(null);
  const [adding, setAdding] = useState(false);
  const { navigate } = useRouter();
  const canWrite = useCanWrite();
  // The directory of the environment chosen in the top bar, like the other end-user screens.
  const { environment } = useSession();
  const [listedEnvironment, setListedEnvironment] = useState(environment);
  if (listedEnvironment !== environment) {
    // Another environment's directory starts at its first page (set while rendering, as React
    // recommends for state derived from a changed input).
    setListedEnvironment(environment);
    controls.setPage(1);
  }
  const list = useApi('listEndUsers', {
    query: {
      environment_type: environment,
      email,
      sort: controls.sort?.key,
      direction: controls.sort?.direction,
      'page[number]': controls.page,
      'page[size]': PAGE_SIZE,
    },
  });
  return (
    <Page
      title="Users"
      description="View and manage users and groups synced from your identity provider. Groups can be used to control access and apply policies consistently."
      actions={
        canWrite && (
          <button
            type="button"
            className="button button-primary"
            onClick={() => {
              setAdding(true);
            }}
          >
            Add user
          </button>
        )
      }
    >
      <ListView
        controls={controls}
        searchLabel="Search by email"
        caption="Users"
        rows={list.data?.data}
        total={list.data?.total}
        pageSize={PAGE_SIZE}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        rowKey={(u) => u.id}
        empty={
          email === ''
            ? `No users in ${environment.toUpperCase()} yet. Add users here, invite them, or connect your identity provider.`
            : `No user in ${environment.toUpperCase()} has an email containing “${email}”.`
        }
        columns={[
          {
            key: 'user',
            header: 'User',
            render: (u) => (
              <Link to={`/users/${u.id}`} className="person-link">
                <span className="person">
                  <Avatar name={u.name} url={u.avatar_url} />
                  <span className="person-name">{u.name}</span>
                </span>
              </Link>
            ),
          },
          { key: 'email', header: 'Email', sort: true, render: (u) => u.email },
          {
            key: 'status',
            header: 'Status',
            render: (u) => <Badge tone={STATUS_TONE[u.status]}>{statusLabel(u.status)}</Badge>,
          },
          {
            key: 'environments',
            header: 'Environments',
            render: (u) =>
              u.environment_types.length === 0 ? (
                <span className="muted">None</span>
              ) : (
                u.environment_types.map((env) => env.toUpperCase()).join(', ')
              ),
          },
          {
            key: 'mfa',
            header: 'MFA',
            sort: true,
            render: (u) =>
              u.mfa_enabled ? <Badge tone="green">On</Badge> : <span aria-label="MFA off">—</span>,
          },
          {
            key: 'created_at',
            header: 'Created',
            sort: true,
            render: (u) => <RelativeTime iso={u.created_at} />,
          },
          {
            key: 'menu',
            header: <span className="visually-hidden">Actions</span>,
            className: 'cell-menu',
            render: (u) => (
              <RowMenu
                label={`Actions for ${u.name}`}
                items={[
                  {
                    label: 'View details',
                    onSelect: () => {
                      navigate(`/users/${u.id}`);
                    },
                  },
                  ...(canWrite && (u.status === 'active' || u.status === 'locked')
                    ? [
                        {
                          label: u.status === 'locked' ? 'Unlock user' : 'Lock user',
                          danger: u.status !== 'locked',
                          onSelect: () => {
                            setLocking(u);
                          },
                        },
                      ]
                    : []),
                ]}
              />
            ),
          },
        ]}
      />
      {locking !== null && (
        <LockDialog
          user={locking}
          onClose={() => {
            setLocking(null);
          }}
          onDone={() => {
            setLocking(null);
            list.reload();
          }}
        />
      )}
      {adding && (
        <AddUserDialog
          onClose={() => {
            setAdding(false);
          }}
          onDone={() => {
            setAdding(false);
            list.reload();
          }}
        />
      )}
    </Page>
  );
}

export function UserDetailPage({ id }: { id: number }) {
  const { session } = useSession();
  const detail = useApi('getEndUser', { params: { id } });
  const [revoking, setRevoking] = useState<string | null>(null);
  const [understood, setUnderstood] = useState(false);
  const [locking, setLocking] = useState(false);
  const canWrite = useCanWrite();
  const { pending, error, run } = useAction();
  const user = detail.data?.data;
  const back = (
    <Link to="/users" className="back-link">
      ← Back to users
    </Link>
  );
  if (detail.error !== undefined) {
    return (
      <Page title="User" back={back}>
        <Alert>{detail.error}</Alert>
      </Page>
    );
  }
  if (user === undefined) {
    return (
      <Page title="User" back={back}>
        <p>Loading…</p>
      </Page>
    );
  }
  const toggle = async (env: string, access: boolean) => {
    if (!access) {
      setUnderstood(false);
      setRevoking(env);
      return;
    }
    const result = await run(() =>
      call('setEndUserEnvironment', {
        params: { id },
        body: { environment_type: env, access: true },
      }),
    );
    if (result !== undefined) detail.reload();
  };
  const revoke = async () => {
    if (revoking === null) return;
    const result = await run(() =>
      call('setEndUserEnvironment', {
        params: { id },
        body: { environment_type: revoking, access: false, confirm: true },
      }),
    );
    if (result !== undefined) {
      setRevoking(null);
      detail.reload();
    }
  };
  const revokedGroups = user.groups.filter((g) => g.environment_type === revoking && !g.system);
  return (
    <Page
      title={user.name}
      back={back}
      actions={
        canWrite && (user.status === 'active' || user.status === 'locked') ? (
          <button
            type="button"
            className={`button ${user.status === 'locked' ? '' : 'button-danger'}`}
            onClick={() => {
              setLocking(true);
            }}
          >
            {user.status === 'locked' ? 'Unlock user' : 'Lock user'}
          </button>
        ) : undefined
      }
    >
      {error !== undefined && revoking === null && <Alert>{error}</Alert>}
      {user.status === 'locked' && (
        <Alert tone="warning">
          This user is locked: every access decision for them is deny until they are unlocked.
        </Alert>
      )}
      <div className="grid-2">
        <section className="card" aria-labelledby="profile-heading">
          <h2 id="profile-heading">Profile</h2>
          <div className="profile">
            <Avatar name={user.name} url={user.avatar_url} size={56} />
            <dl className="facts">
              <dt>Email</dt>
              <dd>{user.email}</dd>
              <dt>Status</dt>
              <dd>
                <Badge tone={STATUS_TONE[user.status]}>{statusLabel(user.status)}</Badge>
              </dd>
              <dt>MFA</dt>
              <dd>{user.mfa_enabled ? 'On' : '—'}</dd>
              <dt>Source</dt>
              <dd>{user.source}</dd>
              <dt>External ID</dt>
              <dd>{user.external_id ?? '—'}</dd>
              <dt>Created</dt>
              <dd>
                <RelativeTime iso={user.created_at} />
              </dd>
            </dl>
          </div>
        </section>
        <section className="card" aria-labelledby="env-heading">
          <h2 id="env-heading">Environments</h2>
          <p className="muted">Deselect an environment to revoke this user’s access to it.</p>
          <fieldset>
            <legend className="visually-hidden">Environment access</legend>
            {session.environment_types.map((env) => {
              const has = user.environment_types.includes(env);
              return (
                <label key={env} className="check-row">
                  <input
                    type="checkbox"
                    checked={has}
                    disabled={!canWrite || pending}
                    onChange={() => void toggle(env, !has)}
                  />
                  {env.toUpperCase()}
                </label>
              );
            })}
          </fieldset>
        </section>
      </div>
      <section className="card" aria-labelledby="groups-heading">
        <h2 id="groups-heading">Groups</h2>
        <DataTable
          caption="Groups of this user"
          rows={user.groups}
          rowKey={(g) => g.id}
          empty="Not in any group."
          columns={[
            {
              key: 'name',
              header: 'Group',
              render: (g) => (g.system ? g.name : <Link to={`/groups/${g.id}`}>{g.name}</Link>),
            },
            { key: 'env', header: 'Environment', render: (g) => g.environment_type.toUpperCase() },
            { key: 'joined', header: 'Joined', render: (g) => <RelativeTime iso={g.joined_at} /> },
          ]}
        />
      </section>
      <section className="card" aria-labelledby="features-heading">
        <h2 id="features-heading">Feature access</h2>
        <DataTable
          caption="Feature access"
          rows={user.feature_access}
          rowKey={(f) => `${f.feature.id}-${f.via}-${f.group?.id ?? 0}`}
          empty="No feature access."
          columns={[
            {
              key: 'feature',
              header: 'Feature',
              render: (f) => <Link to={`/features/${f.feature.id}`}>{f.feature.name}</Link>,
            },
            { key: 'kind', header: 'Kind', render: (f) => kindLabel(f.feature.kind) },
            {
              key: 'env',
              header: 'Environment',
              render: (f) => f.feature.environment_type.toUpperCase(),
            },
            {
              key: 'via',
              header: 'Through',
              render: (f) => (f.via === 'direct' ? 'Direct grant' : `Group ${f.group?.name ?? ''}`),
            },
          ]}
        />
      </section>
      <section className="card" aria-labelledby="activity-heading">
        <h2 id="activity-heading">Recent activity</h2>
        {user.recent_activity.length === 0 ? (
          <p className="muted">No activity yet.</p>
        ) : (
          <ol className="timeline">
            {user.recent_activity.map((a) => (
              <li key={a.id}>
                <span className="mono">{a.action}</span> by {a.actor.name ?? a.actor.type} ·{' '}
                <RelativeTime iso={a.created_at} />
              </li>
            ))}
          </ol>
        )}
      </section>
      {revoking !== null && (
        <Modal
          title={`Revoke access to ${revoking.toUpperCase()}?`}
          onClose={() => {
            setRevoking(null);
          }}
          footer={
            <>
              <button
                type="button"
                className="button"
                onClick={() => {
                  setRevoking(null);
                }}
              >
                Cancel
              </button>
              <button
                type="button"
                className="button button-danger"
                disabled={!understood || pending}
                onClick={() => void revoke()}
              >
                Save
              </button>
            </>
          }
        >
          {error !== undefined && <Alert>{error}</Alert>}
          <p>
            {user.name} will lose access to the {revoking.toUpperCase()} environment and everything
            in it.
            {revokedGroups.length > 0
              ? ` They will also be removed from ${revokedGroups.map((g) => g.name).join(', ')}.`
              : ''}
          </p>
          <label className="check-row">
            <input
              type="checkbox"
              checked={understood}
              onChange={(e) => {
                setUnderstood(e.target.checked);
              }}
            />
            I understand that {user.name} loses access to {revoking.toUpperCase()}
          </label>
        </Modal>
      )}
      {locking && (
        <LockDialog
          user={user}
          onClose={() => {
            setLocking(false);
          }}
          onDone={() => {
            setLocking(false);
            detail.reload();
          }}
        />
      )}
    </Page>
  );
}

export const kindLabel = (kind: string) =>
  ({
    assistant: 'Assistant',
    chat_app: 'Chat app',
    mcp_server: 'MCP server',
    apps_portal: 'Apps portal',
  })[kind] ?? kind;
