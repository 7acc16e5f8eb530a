/**
 * Agents of the chosen environment: AI agents that call MCP tools through Roster's gateway on
 * behalf of one end user (docs/agents.md). Create one (its token shown once), disable or enable
 * it, rotate its token; below, the live view of recent tool calls with their decisions (the
 * audit log's `agent.tool_call` events, refreshed every few seconds).
 */
import { useEffect, useState } from 'react';
import { call, type Agent, type AgentWithToken, type AuditEvent } from '../api/client';
import { Alert, Badge, CopyField, OpenButton, Page, RelativeTime } from '../components/ui';
import { FormDialog, SecretOnceDialog } from '../components/dialogs';
import { TextField } from '../components/fields';
import { ListView, useListControls } from '../components/list-view';
import { SearchSelectField } from '../components/search-select';
import { useAction, useApi } from '../hooks/use-api';
import { useCanWrite, useSession } from '../session';

function TokenOnce({ agent, onClose }: { agent: AgentWithToken; onClose: () => void }) {
  return (
    <SecretOnceDialog
      title={`Token for ${agent.name}`}
      warning="This is the only time the token is shown. Roster stores only its hash."
      onClose={onClose}
    >
      <CopyField label="Agent token" value={agent.token} copyLabel="Copy token" />
    </SecretOnceDialog>
  );
}

function CreateAgentDialog({
  onClose,
  onCreated,
}: {
  onClose: () => void;
  onCreated: (agent: AgentWithToken) => void;
}) {
  const { environment } = useSession();
  const [name, setName] = useState('');
  const [userId, setUserId] = useState('');
  const [featureId, setFeatureId] = useState('');
  // End users and MCP servers are found by search: either may be more than a page.
  const { pending, error, run } = useAction();
  const submit = async () => {
    const result = await run(() =>
      call('createAgent', {
        body: {
          name,
          environment_type: environment,
          end_user_id: Number(userId),
          feature_ids: [Number(featureId)],
        },
      }),
    );
    if (result !== undefined) onCreated(result.data);
  };
  return (
    <FormDialog
      title={`Create an agent in ${environment.toUpperCase()}`}
      submitLabel="Create"
      onSubmit={submit}
      onCancel={onClose}
      pending={pending}
      ready={name.trim() !== '' && userId !== '' && featureId !== ''}
      error={error}
    >
      <TextField label="Name" required value={name} onChange={setName} />
      <SearchSelectField
        label="Acts for end user"
        searchLabel="Search end users by email"
        noun="end users"
        operation="listEndUsers"
        query={(email) => ({
          email,
          environment_type: environment,
          sort: 'email',
          direction: 'asc',
        })}
        option={(u) => ({ value: String(u.id), label: `${u.name} (${u.email})` })}
        required
        value={userId}
        onChange={setUserId}
      />
      <SearchSelectField
        label="MCP server"
        searchLabel="Search MCP servers by name"
        noun="MCP servers"
        operation="listFeatures"
        query={(name) => ({ name, environment_type: environment, kind: 'mcp_server' })}
        option={(f) => ({ value: String(f.id), label: f.name })}
        required
        value={featureId}
        onChange={setFeatureId}
      />
    </FormDialog>
  );
}

/** The last tool calls, newest first, refreshed every 5 s while the page is open. */
function RecentToolCalls() {
  const [events, setEvents] = useState<AuditEvent[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    let stopped = false;
    const load = () => {
      call('listAuditEvents', { query: { action: 'agent.tool_call', 'page[size]': 20 } }).then(
        (result) => {
          if (!stopped) setEvents(result.data);
        },
        (caught: unknown) => {
          if (!stopped) setError(caught instanceof Error ? caught.message : String(caught));
        },
      );
    };
    load();
    const timer = setInterval(load, 5000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);
  if (error !== undefined) return <Alert>{error}</Alert>;
  if (events === undefined) return <p>Loading…</p>;
  if (events.length === 0) return <p>No tool calls yet.</p>;
  const field = (e: AuditEvent, key: string): string => {
    const after = e.after as Record<string, unknown> | null;
    const value = after?.[key];
    return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
  };
  return (
    <table className="table" aria-label="Recent tool calls">
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Agent</th>
          <th scope="col">End user</th>
          <th scope="col">Feature</th>
          <th scope="col">Tool</th>
          <th scope="col">Decision</th>
          <th scope="col">Upstream</th>
          <th scope="col">Latency</th>
        </tr>
      </thead>
      <tbody>
        {events.map((e) => {
          const decision = field(e, 'decision');
          return (
            <tr key={e.id}>
              <td>
                <RelativeTime iso={e.created_at} />
              </td>
              <td>{e.actor.name}</td>
              <td>{field(e, 'end_user_email')}</td>
              <td>{field(e, 'feature_name')}</td>
              <td className="mono">{field(e, 'tool')}</td>
              <td>
                <Badge
                  tone={decision === 'allow' ? 'green' : decision === 'deny' ? 'red' : 'amber'}
                >
                  {decision}
                </Badge>
              </td>
              <td>{field(e, 'upstream_status')}</td>
              <td>{field(e, 'latency_ms')} ms</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

export function AgentsPage() {
  const { environment } = useSession();
  const canWrite = useCanWrite();
  const controls = useListControls({ key: 'name', direction: 'asc' }, { sortKeepsPage: true });
  const [creating, setCreating] = useState(false);
  const [shown, setShown] = useState<AgentWithToken | null>(null);
  const list = useApi('listAgents', {
    query: { environment_type: environment, ...controls.pageQuery },
  });
  const { pending, error, run } = useAction();
  const rotate = async (agent: Agent) => {
    const result = await run(() => call('rotateAgent', { params: { id: agent.id } }));
    if (result !== undefined) {
      setShown(result.data);
      list.reload();
    }
  };
  const setDisabled = async (agent: Agent, disabled: boolean) => {
    const result = await run(() =>
      call('updateAgent', { params: { id: agent.id }, body: { disabled } }),
    );
    if (result !== undefined) list.reload();
  };
  return (
    <Page
      title="Agents"
      description="AI agents calling MCP servers through Roster for one end user: every tool call is decided by that user’s access, and recorded."
      actions={
        <OpenButton show={canWrite} onOpen={setCreating}>
          Create agent
        </OpenButton>
      }
    >
      <ListView
        list={controls.of(list)}
        beforeTable={error !== undefined && !creating && <Alert>{error}</Alert>}
        caption="Agents"
        rowKey={(a) => a.id}
        empty="No agents in this environment."
        columns={[
          { key: 'name', header: 'Name', sort: (a) => a.name.toLowerCase(), render: (a) => a.name },
          { key: 'user', header: 'Acts for', render: (a) => a.end_user.email },
          {
            key: 'token',
            header: 'Token',
            render: (a) => <span className="mono">{a.token_prefix}</span>,
          },
          {
            key: 'state',
            header: 'State',
            render: (a) =>
              a.disabled ? <Badge tone="grey">Disabled</Badge> : <Badge tone="green">Active</Badge>,
          },
          {
            key: 'created',
            header: 'Created',
            render: (a) => <RelativeTime iso={a.created_at} />,
          },
          {
            key: 'actions',
            header: <span className="visually-hidden">Actions</span>,
            className: 'cell-actions',
            render: (a) =>
              canWrite && (
                <span className="button-row">
                  <button
                    type="button"
                    className="button button-small"
                    disabled={pending}
                    onClick={() => void setDisabled(a, !a.disabled)}
                  >
                    {a.disabled ? 'Enable' : 'Disable'}
                  </button>
                  <button
                    type="button"
                    className="button button-small"
                    disabled={pending}
                    onClick={() => void rotate(a)}
                  >
                    Rotate
                  </button>
                </span>
              ),
          },
        ]}
      />
      <h2>Recent tool calls</h2>
      <RecentToolCalls />
      {creating && (
        <CreateAgentDialog
          onClose={() => {
            setCreating(false);
          }}
          onCreated={(agent) => {
            setCreating(false);
            setShown(agent);
            list.reload();
          }}
        />
      )}
      {shown !== null && (
        <TokenOnce
          agent={shown}
          onClose={() => {
            setShown(null);
          }}
        />
      )}
    </Page>
  );
}
