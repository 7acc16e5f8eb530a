/** End users: the directory of the environment chosen in the top bar (search, sort, lock, add). */
import { useState } from 'react';
import { call, type EndUser } from '../../api/client';
import { Avatar, Badge, OpenButton, Page, RelativeTime, RowMenu } from '../../components/ui';
import { ListView, useListControls } from '../../components/list-view';
import { useAction, useApi } from '../../hooks/use-api';
import { Link, useRouter } from '../../router';
import { useCanWrite, useSession } from '../../session';
import { STATUS_TONE, statusLabel } from '../../components/labels';
import { LockDialog } from '../../components/lock-dialog';
import { FormDialog } from '../../components/dialogs';
import { EnvironmentChecks, TextField } from '../../components/fields';

function AddUserDialog({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const { session } = useSession();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [mode, setMode] = useState<'invite' | 'create'>('invite');
  const [environments, setEnvironments] = useState<string[]>(['dev']);
  const { pending, error, run } = useAction();
  const submit = async () => {
    const body = { name, email, environment_types: environments };
    const result = await run(() =>
      mode === 'invite' ? call('inviteEndUser', { body }) : call('createEndUser', { body }),
    );
    if (result !== undefined) onDone();
  };
  return (
    <FormDialog
      title="Add user"
      submitLabel="Add user"
      onSubmit={submit}
      onCancel={onClose}
      pending={pending}
      error={error}
    >
      <TextField label="Name" required value={name} onChange={setName} />
      <TextField label="Email address" type="email" required value={email} onChange={setEmail} />
      <EnvironmentChecks
        legend="Environments"
        options={session.environment_types}
        value={environments}
        onChange={setEnvironments}
      />
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
    </FormDialog>
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
      ...controls.pageQuery,
    },
  });
  return (
    <Page
      title="Users"
      description="View and manage users and groups synced from your identity provider. Groups can be used to control access and apply policies consistently."
      actions={
        <OpenButton show={canWrite} onOpen={setAdding}>
          Add user
        </OpenButton>
      }
    >
      <ListView
        list={controls.of(list)}
        searchLabel="Search by email"
        caption="Users"
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
