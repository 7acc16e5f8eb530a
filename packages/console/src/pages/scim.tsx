/**
 * SCIM connections: identity providers that provision end users or collaborators into one
 * environment. Tokens are shown once (at creation and rotation); deleting a connection stops
 * provisioning and hands its groups back to manual management (docs/scim.md, "Connections").
 */
import { useState } from 'react';
import { call, type ScimConnection, type ScimConnectionWithToken } from '../api/client';
import { ListView, useListControls, useLocalRows } from '../components/list-view';
import {
  Badge,
  CopyButton,
  CopyField,
  Field,
  OpenButton,
  Page,
  RelativeTime,
  RowMenu,
  type Column,
} from '../components/ui';
import { SelectField } from '../components/fields';
import { ConfirmDialog, FormDialog, SecretOnceDialog } from '../components/dialogs';
import { useAction, useApi } from '../hooks/use-api';
import { useCanWrite, useSession } from '../session';

const TARGET_LABELS: Record<ScimConnection['target'], string> = {
  end_users: 'End users',
  collaborators: 'Collaborators',
};

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

/** The token and base URL, once: Roster keeps only the token's hash. */
function TokenOnce({
  connection,
  rotated,
  onClose,
}: {
  connection: ScimConnectionWithToken;
  rotated: boolean;
  onClose: () => void;
}) {
  return (
    <SecretOnceDialog
      title={rotated ? `New token for ${connection.name}` : `${connection.name} is ready`}
      warning={
        <>
          Copy the token now: you will not see it again. Roster stores only its hash; if it is lost,
          rotate the token and paste the new one into your identity provider.
          {rotated && ' The previous token has stopped working.'}
        </>
      }
      onClose={onClose}
      wide
    >
      <CopyField
        label="SCIM base URL"
        value={connection.base_url}
        copyLabel="Copy base URL"
        hint="Your identity provider's SCIM connector URL (tenant URL)."
      />
      <CopyField
        label="Bearer token"
        value={connection.token}
        copyLabel="Copy token"
        hint="The API token / secret token of the connector (HTTP header authentication)."
      />
    </SecretOnceDialog>
  );
}

function CreateConnectionDialog({
  onClose,
  onCreated,
}: {
  onClose: () => void;
  onCreated: (connection: ScimConnectionWithToken) => void;
}) {
  const { session, environment } = useSession();
  const writable = session.writable_environment_types;
  const [environmentType, setEnvironmentType] = useState(
    writable.includes(environment) ? environment : (writable[0] ?? ''),
  );
  const [target, setTarget] = useState<ScimConnection['target']>('end_users');
  const [name, setName] = useState('');
  // `type:name`, as the API takes a role: a legacy role (privilege_group) or an environment role.
  const [role, setRole] = useState('privilege_group:Analyst');
  const legacyRoles = useApi('listLegacyRoles', target === 'collaborators' ? {} : null);
  const environmentRoles = useApi(
    'listEnvironmentRoles',
    target === 'collaborators' ? { query: { 'page[size]': 100 } } : null,
  );
  const { pending, error, run } = useAction();
  const submit = async () => {
    const separator = role.indexOf(':');
    const roleType = role.slice(0, separator);
    const roleName = role.slice(separator + 1);
    const result = await run(() =>
      call('createScimConnection', {
        body: {
          environment_type: environmentType,
          target,
          ...(name.trim() === '' ? {} : { name: name.trim() }),
          ...(target === 'collaborators'
            ? {
                default_role: roleName,
                ...(roleType === 'environment' ? { default_role_type: 'environment' } : {}),
              }
            : {}),
        },
      }),
    );
    if (result !== undefined) onCreated(result.data);
  };
  return (
    <FormDialog
      title="Create SCIM connection"
      submitLabel="Create connection"
      onSubmit={submit}
      onCancel={onClose}
      pending={pending}
      ready={!(environmentType === '')}
      error={error}
    >
      <SelectField
        label="Environment"
        required
        value={environmentType}
        onChange={setEnvironmentType}
        options={writable.map((env) => ({ value: env, label: env.toUpperCase() }))}
      />
      <fieldset>
        <legend>Provisions</legend>
        {(['end_users', 'collaborators'] as const).map((value) => (
          <label key={value} className="check-row">
            <input
              type="radio"
              name="scim-target"
              checked={target === value}
              onChange={() => {
                setTarget(value);
              }}
            />
            {TARGET_LABELS[value]}
          </label>
        ))}
      </fieldset>
      <Field label="Name" hint="Optional: for example the identity provider's name.">
        {(id) => (
          <input
            id={id}
            maxLength={200}
            value={name}
            placeholder="Okta"
            onChange={(e) => {
              setName(e.target.value);
            }}
          />
        )}
      </Field>
      {target === 'collaborators' && (
        <Field
          label="Default role"
          hint="The role collaborators created by this connection get in its environment."
        >
          {(id) => (
            <select
              id={id}
              required
              value={role}
              onChange={(e) => {
                setRole(e.target.value);
              }}
            >
              <optgroup label="Legacy roles">
                {(legacyRoles.data?.data ?? [{ name: 'Analyst' }]).map((r) => (
                  <option key={r.name} value={`privilege_group:${r.name}`}>
                    {r.name}
                  </option>
                ))}
              </optgroup>
              {(environmentRoles.data?.data.length ?? 0) > 0 && (
                <optgroup label="Environment roles">
                  {(environmentRoles.data?.data ?? []).map((r) => (
                    <option key={r.id} value={`environment:${r.name}`}>
                      {r.name}
                    </option>
                  ))}
                </optgroup>
              )}
            </select>
          )}
        </Field>
      )}
    </FormDialog>
  );
}

export function ScimConnectionsPage() {
  const { session } = useSession();
  const canCreate = useCanWrite();
  const writable = (connection: ScimConnection) =>
    session.writable_environment_types.includes(connection.environment_type);
  const controls = useListControls({ key: 'name', direction: 'asc' });
  const list = useApi('listScimConnections');
  const [creating, setCreating] = useState(false);
  const [shown, setShown] = useState<{
    connection: ScimConnectionWithToken;
    rotated: boolean;
  } | null>(null);
  const [rotating, setRotating] = useState<ScimConnection | null>(null);
  const [deleting, setDeleting] = useState<ScimConnection | null>(null);
  const { pending, error, setError, run } = useAction();

  const rotate = async () => {
    if (rotating === null) return;
    const result = await run(() => call('rotateScimToken', { params: { id: rotating.id } }));
    if (result !== undefined) {
      setRotating(null);
      setShown({ connection: result.data, rotated: true });
      list.reload();
    }
  };
  const remove = async () => {
    if (deleting === null) return;
    const result = await run(() => call('deleteScimConnection', { params: { id: deleting.id } }));
    if (result !== undefined) {
      setDeleting(null);
      list.reload();
    }
  };
  const closeConfirmation = () => {
    setRotating(null);
    setDeleting(null);
    setError(undefined);
  };

  const columns: Column<ScimConnection>[] = [
    {
      key: 'name',
      header: 'Name',
      sort: (c) => c.name.toLowerCase(),
      render: (c) => <span className="person-name">{c.name}</span>,
    },
    {
      key: 'provisions',
      header: 'Provisions',
      sort: (c) => `${c.environment_type} ${c.target}`,
      render: (c) => (
        <span className="stack">
          <span>
            <Badge tone={c.target === 'end_users' ? 'blue' : 'purple'}>
              {TARGET_LABELS[c.target]}
            </Badge>{' '}
            into {c.environment_type.toUpperCase()}
          </span>
          {c.target === 'collaborators' && c.default_role !== null && (
            <span className="muted small">as {c.default_role}</span>
          )}
        </span>
      ),
    },
    {
      key: 'base_url',
      header: 'Base URL',
      render: (c) => (
        <span className="copy-cell">
          {/* The full URL is long: the cell shows its path (what tells connections apart). */}
          <span className="mono small truncate" title={c.base_url}>
            {pathOf(c.base_url)}
          </span>
          <CopyButton value={c.base_url} label={`Copy the base URL of ${c.name}`} small>
            Copy
          </CopyButton>
        </span>
      ),
    },
    {
      key: 'token',
      header: 'Token',
      render: (c) => <span className="mono small">{c.token_prefix}…</span>,
    },
    {
      key: 'users',
      header: 'Users',
      sort: (c) => c.users_count,
      render: (c) => c.users_count,
      className: 'num',
    },
    {
      key: 'groups',
      header: 'Groups',
      sort: (c) => c.groups_count,
      render: (c) => c.groups_count,
      className: 'num',
    },
    {
      key: 'last_sync',
      header: 'Last sync',
      sort: (c) => c.last_sync_at ?? '',
      render: (c) =>
        c.last_sync_at === null ? (
          <span className="muted">Never</span>
        ) : (
          <RelativeTime iso={c.last_sync_at} />
        ),
    },
    {
      key: 'created',
      header: 'Created',
      sort: (c) => c.created_at,
      render: (c) => <RelativeTime iso={c.created_at} />,
    },
    {
      key: 'actions',
      header: <span className="visually-hidden">Actions</span>,
      className: 'cell-menu',
      render: (c) =>
        writable(c) && (
          <RowMenu
            label={`Actions for ${c.name}`}
            items={[
              {
                label: 'Rotate token',
                onSelect: () => {
                  setRotating(c);
                },
              },
              {
                label: 'Delete connection',
                danger: true,
                onSelect: () => {
                  setDeleting(c);
                },
              },
            ]}
          />
        ),
    },
  ];
  const local = useLocalRows(list.data?.data, columns, controls, {
    matches: (c, query) =>
      [c.name, c.environment_type, TARGET_LABELS[c.target], c.base_url, c.token_prefix].some(
        (text) => text.toLowerCase().includes(query),
      ),
  });

  return (
    <Page
      title="SCIM connections"
      description="Identity providers (Okta, Microsoft Entra ID…) that provision end users or collaborators into one environment over SCIM 2.0. Each connection has its own base URL and bearer token."
      actions={
        <OpenButton show={canCreate} onOpen={setCreating}>
          Create connection
        </OpenButton>
      }
    >
      <ListView
        list={controls.of(list, {
          rows: local.rows,
          total: list.data === undefined ? undefined : local.total,
        })}
        searchLabel="Search connections"
        caption="SCIM connections"
        columns={columns}
        rowKey={(c) => c.id}
        empty={
          controls.query === ''
            ? 'No SCIM connections yet. Create one, then paste its base URL and token into your identity provider.'
            : `No connection matches “${controls.query}”.`
        }
      />
      {creating && (
        <CreateConnectionDialog
          onClose={() => {
            setCreating(false);
          }}
          onCreated={(connection) => {
            setCreating(false);
            setShown({ connection, rotated: false });
            list.reload();
          }}
        />
      )}
      {shown !== null && (
        <TokenOnce
          connection={shown.connection}
          rotated={shown.rotated}
          onClose={() => {
            setShown(null);
          }}
        />
      )}
      {rotating !== null && (
        <ConfirmDialog
          title={`Rotate the token of ${rotating.name}?`}
          confirmLabel="Rotate token"
          onConfirm={rotate}
          onCancel={closeConfirmation}
          pending={pending}
          error={error}
        >
          <p>
            The current token (<span className="mono">{rotating.token_prefix}…</span>) stops working
            at once: provisioning from your identity provider fails until you paste the new token
            there. The new token is shown once.
          </p>
        </ConfirmDialog>
      )}
      {deleting !== null && (
        <ConfirmDialog
          title={`Delete ${deleting.name}?`}
          confirmLabel="Delete connection"
          onConfirm={remove}
          onCancel={closeConfirmation}
          pending={pending}
          error={error}
        >
          <p>
            Provisioning stops: your identity provider’s requests are refused from now on, and
            changes made there no longer reach Roster.
          </p>
          <p>
            The {deleting.users_count} {deleting.users_count === 1 ? 'user' : 'users'} and{' '}
            {deleting.groups_count} {deleting.groups_count === 1 ? 'group' : 'groups'} it manages
            stay in Roster. Its groups become manually managed: edit their members in Roster from
            now on.
          </p>
        </ConfirmDialog>
      )}
    </Page>
  );
}
