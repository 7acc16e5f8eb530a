/** API clients: the list, creating, rotating and revoking a client (its token shown once). */
import { useState } from 'react';
import { call, type ApiClient } from '../api/client';
import { Alert, Badge, CopyField, OpenButton, Page, RelativeTime } from '../components/ui';
import { ConfirmDialog, FormDialog, SecretOnceDialog } from '../components/dialogs';
import { EnvironmentChecks, TextField } from '../components/fields';
import { ListView, useListControls } from '../components/list-view';
import { useAction, useApi } from '../hooks/use-api';
import { useCanWrite, useSession } from '../session';

function TokenOnce({
  client,
  onClose,
}: {
  client: ApiClient & { token: string };
  onClose: () => void;
}) {
  return (
    <SecretOnceDialog
      title={`Token for ${client.name}`}
      warning="This is the only time the token is shown. Roster stores only its hash."
      onClose={onClose}
    >
      <CopyField label="API token" value={client.token} copyLabel="Copy token" />
    </SecretOnceDialog>
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
      ...controls.pageQuery,
    },
  });
  const { pending, error, run } = useAction();
  const create = async () => {
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
        <OpenButton show={canWrite} onOpen={setCreating}>
          Create API client
        </OpenButton>
      }
    >
      <ListView
        list={controls.of(list)}
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
        <FormDialog
          title="Create API client"
          submitLabel="Create"
          onSubmit={create}
          onCancel={() => {
            setCreating(false);
          }}
          pending={pending}
          ready={environments.length > 0}
          error={error}
        >
          <TextField label="Name" required value={name} onChange={setName} />
          <EnvironmentChecks
            legend="Environments it may manage"
            options={session.writable_environment_types}
            value={environments}
            onChange={setEnvironments}
          />
        </FormDialog>
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
          onConfirm={revoke}
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
