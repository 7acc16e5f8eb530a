/** Features of the selected environment with their end-user access and policies; approval requests. */
import { useState, type SubmitEvent } from 'react';
import { call, type ApprovalRequest, type Feature, type Policy } from '../api/client';
import {
  Alert,
  Badge,
  DataTable,
  Field,
  Modal,
  Page,
  Person,
  PickList,
  RelativeTime,
  TabPanel,
  Tabs,
  useDebounced,
  type Tone,
} from '../components/ui';
import { ListView, useListControls } from '../components/list-view';
import { useAction, useApi } from '../hooks/use-api';
import { Link, useRouter } from '../router';
import { useCanWrite, useSession } from '../session';
import { kindLabel } from './users';

const PAGE_SIZE = 25;
const KINDS = ['assistant', 'chat_app', 'mcp_server', 'apps_portal'] as const;
export const EFFECT_TONE: Record<string, Tone> = {
  allow: 'green',
  deny: 'red',
  require_approval: 'amber',
};
export const effectLabel = (effect: string) =>
  ({ allow: 'Allow', deny: 'Deny', require_approval: 'Require approval' })[effect] ?? effect;

function CreateFeatureDialog({
  onClose,
  onCreated,
}: {
  onClose: () => void;
  onCreated: (f: Feature) => void;
}) {
  const { environment } = useSession();
  const [name, setName] = useState('');
  const [kind, setKind] = useState<(typeof KINDS)[number]>('assistant');
  const { pending, error, run } = useAction();
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const result = await run(() =>
      call('createFeature', { body: { environment_type: environment, kind, name } }),
    );
    if (result !== undefined) onCreated(result.data);
  };
  return (
    <Modal title={`Register a feature in ${environment.toUpperCase()}`} onClose={onClose}>
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
        <Field label="Kind">
          {(id) => (
            <select
              id={id}
              value={kind}
              onChange={(e) => {
                setKind(e.target.value as (typeof KINDS)[number]);
              }}
            >
              {KINDS.map((k) => (
                <option key={k} value={k}>
                  {kindLabel(k)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <div className="modal-footer">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button-primary" disabled={pending}>
            Register
          </button>
        </div>
      </form>
    </Modal>
  );
}

export function FeaturesPage() {
  const { environment } = useSession();
  const canWrite = useCanWrite(environment);
  // The search box filters and the sort orders the page shown, as it is typed: both keep the page.
  const controls = useListControls(
    { key: 'name', direction: 'asc' },
    { searchKeepsPage: true, sortKeepsPage: true },
  );
  const search = controls.search;
  const [creating, setCreating] = useState(false);
  const { navigate } = useRouter();
  const list = useApi('listFeatures', {
    query: {
      environment_type: environment,
      'page[number]': controls.page,
      'page[size]': PAGE_SIZE,
    },
  });
  const policies = useApi('listPolicies', {
    query: { environment_type: environment, 'page[size]': 100 },
  });
  const rows = (list.data?.data ?? []).filter((f) =>
    f.name.toLowerCase().includes(search.toLowerCase()),
  );
  const policyCount = (f: Feature) =>
    (policies.data?.data ?? []).filter((p) => p.feature_id === f.id).length;
  return (
    <Page
      title="Features & policies"
      description={`What end users get access to in ${environment.toUpperCase()} — assistants, chat apps, MCP servers, the apps portal — and the policies that decide each call.`}
      actions={
        canWrite && (
          <button
            type="button"
            className="button button-primary"
            onClick={() => {
              setCreating(true);
            }}
          >
            Register feature
          </button>
        )
      }
    >
      <ListView
        controls={controls}
        searchLabel="Search features on this page"
        caption="Features"
        rows={list.data === undefined ? undefined : rows}
        total={list.data?.total}
        pageSize={PAGE_SIZE}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        rowKey={(f) => f.id}
        empty={
          search === '' ? 'No features registered in this environment.' : 'No feature matches.'
        }
        columns={[
          {
            key: 'name',
            header: 'Name',
            sort: (f) => f.name.toLowerCase(),
            render: (f) => <Link to={`/features/${f.id}`}>{f.name}</Link>,
          },
          { key: 'kind', header: 'Kind', sort: (f) => f.kind, render: (f) => kindLabel(f.kind) },
          {
            key: 'policies',
            header: 'Policies',
            sort: policyCount,
            render: policyCount,
            className: 'num',
          },
          {
            key: 'created',
            header: 'Created',
            sort: (f) => f.created_at,
            render: (f) => <RelativeTime iso={f.created_at} />,
          },
        ]}
      />
      {creating && (
        <CreateFeatureDialog
          onClose={() => {
            setCreating(false);
          }}
          onCreated={(f) => {
            navigate(`/features/${f.id}`);
          }}
        />
      )}
    </Page>
  );
}

function AddAccessDialog({
  feature,
  onClose,
  onDone,
}: {
  feature: Feature;
  onClose: () => void;
  onDone: () => void;
}) {
  const [search, setSearch] = useState('');
  const text = useDebounced(search);
  const [selected, setSelected] = useState<string[]>([]);
  const users = useApi('listEndUsers', {
    query: {
      email: text,
      environment_type: feature.environment_type,
      'page[size]': 50,
      sort: 'email',
      direction: 'asc',
    },
  });
  const groups = useApi('listEndUserGroups', {
    query: { environment_type: feature.environment_type, name: text, 'page[size]': 50 },
  });
  const items = [
    ...(groups.data?.data ?? []).map((g) => ({
      key: `g${g.id}`,
      label: g.name,
      detail: `Group · ${g.users_count} users`,
    })),
    ...(users.data?.data ?? []).map((u) => ({ key: `u${u.id}`, label: u.name, detail: u.email })),
  ];
  const { pending, error, run } = useAction();
  const add = async () => {
    const body = {
      end_user_ids: selected.filter((s) => s.startsWith('u')).map((s) => Number(s.slice(1))),
      end_user_group_ids: selected.filter((s) => s.startsWith('g')).map((s) => Number(s.slice(1))),
    };
    const result = await run(() =>
      call('grantFeatureAccess', { params: { id: feature.id }, body }),
    );
    if (result !== undefined) onDone();
  };
  return (
    <Modal
      title="Add end users"
      wide
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="button"
            className="button button-primary"
            disabled={selected.length === 0 || pending}
            onClick={() => void add()}
          >
            Add
          </button>
        </>
      }
    >
      {error !== undefined && <Alert>{error}</Alert>}
      <PickList
        label="Users and groups"
        items={items}
        itemKey={(i) => i.key}
        render={(i) => (
          <span>
            <span className="person-name">{i.label}</span> <span className="muted">{i.detail}</span>
          </span>
        )}
        selected={selected}
        onChange={setSelected}
        search={search}
        onSearch={setSearch}
        emptyText="No user or group matches."
      />
    </Modal>
  );
}

function CreatePolicyDialog({
  feature,
  onClose,
  onDone,
}: {
  feature: Feature;
  onClose: () => void;
  onDone: () => void;
}) {
  const [name, setName] = useState('');
  const [effect, setEffect] = useState<'allow' | 'deny' | 'require_approval'>('allow');
  const [scope, setScope] = useState<'all' | 'users' | 'groups'>('all');
  const [tools, setTools] = useState('');
  const [ids, setIds] = useState<string[]>([]);
  const [search, setSearch] = useState('');
  const text = useDebounced(search);
  const users = useApi(
    'listEndUsers',
    scope === 'users'
      ? { query: { email: text, environment_type: feature.environment_type, 'page[size]': 50 } }
      : null,
  );
  const groups = useApi(
    'listEndUserGroups',
    scope === 'groups'
      ? { query: { environment_type: feature.environment_type, name: text, 'page[size]': 50 } }
      : null,
  );
  const { pending, error, run } = useAction();
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const result = await run(() =>
      call('createPolicy', {
        body: {
          name,
          environment_type: feature.environment_type,
          feature_id: feature.id,
          tools: tools
            .split(',')
            .map((t) => t.trim())
            .filter(Boolean),
          scope: { type: scope, ids: scope === 'all' ? [] : ids.map(Number) },
          effect,
        },
      }),
    );
    if (result !== undefined) onDone();
  };
  const items =
    scope === 'users'
      ? (users.data?.data ?? []).map((u) => ({ key: String(u.id), label: u.name, detail: u.email }))
      : (groups.data?.data ?? []).map((g) => ({
          key: String(g.id),
          label: g.name,
          detail: `${g.users_count} users`,
        }));
  return (
    <Modal title={`New policy for ${feature.name}`} onClose={onClose} wide>
      <form className="form" onSubmit={(e) => void submit(e)}>
        {error !== undefined && <Alert>{error}</Alert>}
        <Field label="Policy name">
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
        <Field
          label="Effect"
          hint="When policies disagree, deny beats require approval, which beats allow."
        >
          {(id) => (
            <select
              id={id}
              value={effect}
              onChange={(e) => {
                setEffect(e.target.value as typeof effect);
              }}
            >
              <option value="allow">Allow</option>
              <option value="require_approval">Require approval</option>
              <option value="deny">Deny</option>
            </select>
          )}
        </Field>
        <Field
          label="Tools"
          hint="Comma-separated tool names; leave empty for every call to the feature."
        >
          {(id) => (
            <input
              id={id}
              value={tools}
              onChange={(e) => {
                setTools(e.target.value);
              }}
              placeholder="e.g. send_email, delete_file"
            />
          )}
        </Field>
        <fieldset>
          <legend>Applies to</legend>
          {(['all', 'users', 'groups'] as const).map((s) => (
            <label key={s} className="check-row">
              <input
                type="radio"
                name="scope"
                checked={scope === s}
                onChange={() => {
                  setScope(s);
                  setIds([]);
                }}
              />
              {s === 'all' ? 'All users' : s === 'users' ? 'Specific users' : 'Specific groups'}
            </label>
          ))}
        </fieldset>
        {scope !== 'all' && (
          <PickList
            label={scope === 'users' ? 'Users' : 'Groups'}
            items={items}
            itemKey={(i) => i.key}
            render={(i) => (
              <span>
                {i.label} <span className="muted">{i.detail}</span>
              </span>
            )}
            selected={ids}
            onChange={setIds}
            search={search}
            onSearch={setSearch}
            emptyText="Nothing matches."
          />
        )}
        <div className="modal-footer">
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="button button-primary" disabled={pending}>
            Create policy
          </button>
        </div>
      </form>
    </Modal>
  );
}

function scopeText(policy: Policy): string {
  if (policy.scope.type === 'all') return 'All users';
  const n = policy.scope.ids.length;
  return policy.scope.type === 'users'
    ? `${n} user${n === 1 ? '' : 's'}`
    : `${n} group${n === 1 ? '' : 's'}`;
}

export function FeatureDetailPage({ id }: { id: number }) {
  const features = useApi('getFeature', { params: { id } });
  const feature = features.data?.data;
  const [tab, setTab] = useState('End user access');
  const back = (
    <Link to="/features" className="back-link">
      ← Back to features
    </Link>
  );
  if (features.error !== undefined) {
    return (
      <Page title="Feature" back={back}>
        <Alert>{features.error}</Alert>
      </Page>
    );
  }
  if (feature === undefined) {
    return (
      <Page title="Feature" back={back}>
        <p>{features.loading ? 'Loading…' : 'Feature not found.'}</p>
      </Page>
    );
  }
  return (
    <Page
      title={feature.name}
      back={back}
      description={`${kindLabel(feature.kind)} · ${feature.environment_type.toUpperCase()}`}
    >
      <Tabs
        label="Feature sections"
        tabs={['End user access', 'Policies']}
        active={tab}
        onChange={setTab}
      />
      <TabPanel tab={tab}>
        {tab === 'Policies' ? (
          <FeaturePolicies feature={feature} />
        ) : (
          <FeatureAccess feature={feature} />
        )}
      </TabPanel>
    </Page>
  );
}

function FeatureAccess({ feature }: { feature: Feature }) {
  const canWrite = useCanWrite(feature.environment_type);
  const access = useApi('listFeatureAccess', {
    params: { id: feature.id },
    query: { 'page[size]': 100 },
  });
  const [adding, setAdding] = useState(false);
  const { pending, error, run } = useAction();
  const revoke = async (grant: {
    end_user: { id: number } | null;
    end_user_group: { id: number } | null;
  }) => {
    const body =
      grant.end_user !== null
        ? { end_user_ids: [grant.end_user.id] }
        : { end_user_group_ids: [grant.end_user_group?.id ?? 0] };
    const result = await run(() =>
      call('revokeFeatureAccess', { params: { id: feature.id }, body }),
    );
    if (result !== undefined) access.reload();
  };
  return (
    <>
      <div className="toolbar toolbar-end">
        {canWrite && (
          <button
            type="button"
            className="button button-primary"
            onClick={() => {
              setAdding(true);
            }}
          >
            Add end users
          </button>
        )}
      </div>
      {error !== undefined && <Alert>{error}</Alert>}
      <DataTable
        caption="End user access"
        rows={access.data?.data}
        loading={access.loading}
        error={access.error}
        onRetry={access.reload}
        rowKey={(g) => g.id}
        empty="Nobody has access yet. Add users or groups."
        columns={[
          {
            key: 'who',
            header: 'User or group',
            render: (g) =>
              g.end_user !== null ? (
                <Link to={`/users/${g.end_user.id}`}>
                  <Person name={g.end_user.name} email={g.end_user.email} />
                </Link>
              ) : (
                <Link to={`/groups/${g.end_user_group?.id ?? 0}`}>{g.end_user_group?.name}</Link>
              ),
          },
          {
            key: 'type',
            header: 'Type',
            render: (g) => (g.type === 'end_user' ? 'User' : <Badge tone="blue">Group</Badge>),
          },
          { key: 'since', header: 'Granted', render: (g) => <RelativeTime iso={g.created_at} /> },
          {
            key: 'revoke',
            header: <span className="visually-hidden">Revoke</span>,
            className: 'cell-menu',
            render: (g) =>
              canWrite && (
                <button
                  type="button"
                  className="button button-small"
                  disabled={pending}
                  onClick={() => void revoke(g)}
                >
                  Revoke
                </button>
              ),
          },
        ]}
      />
      {adding && (
        <AddAccessDialog
          feature={feature}
          onClose={() => {
            setAdding(false);
          }}
          onDone={() => {
            setAdding(false);
            access.reload();
          }}
        />
      )}
    </>
  );
}

function FeaturePolicies({ feature }: { feature: Feature }) {
  const canWrite = useCanWrite(feature.environment_type);
  const policies = useApi('listPolicies', { query: { feature_id: feature.id, 'page[size]': 100 } });
  const [creating, setCreating] = useState(false);
  const { pending, error, run } = useAction();
  const remove = async (policy: Policy) => {
    const result = await run(() => call('deletePolicy', { params: { id: policy.id } }));
    if (result !== undefined) policies.reload();
  };
  return (
    <>
      <div className="toolbar toolbar-end">
        {canWrite && (
          <button
            type="button"
            className="button button-primary"
            onClick={() => {
              setCreating(true);
            }}
          >
            New policy
          </button>
        )}
      </div>
      {error !== undefined && <Alert>{error}</Alert>}
      <DataTable
        caption="Policies"
        rows={policies.data?.data}
        loading={policies.loading}
        error={policies.error}
        onRetry={policies.reload}
        rowKey={(p) => p.id}
        empty="No policies: access follows the feature’s grants."
        columns={[
          { key: 'name', header: 'Policy', render: (p) => p.name },
          {
            key: 'effect',
            header: 'Effect',
            render: (p) => <Badge tone={EFFECT_TONE[p.effect]}>{effectLabel(p.effect)}</Badge>,
          },
          { key: 'scope', header: 'Scope', render: scopeText },
          {
            key: 'tools',
            header: 'Tools',
            render: (p) =>
              p.tools.length === 0 ? (
                <span className="muted">All calls</span>
              ) : (
                <span className="mono">{p.tools.join(', ')}</span>
              ),
          },
          {
            key: 'delete',
            header: <span className="visually-hidden">Delete</span>,
            className: 'cell-menu',
            render: (p) =>
              canWrite && (
                <button
                  type="button"
                  className="button button-small"
                  disabled={pending}
                  onClick={() => void remove(p)}
                >
                  Delete
                </button>
              ),
          },
        ]}
      />
      {creating && (
        <CreatePolicyDialog
          feature={feature}
          onClose={() => {
            setCreating(false);
          }}
          onDone={() => {
            setCreating(false);
            policies.reload();
          }}
        />
      )}
    </>
  );
}

const APPROVAL_TONE: Record<string, Tone> = {
  pending: 'amber',
  approved: 'green',
  rejected: 'red',
  used: 'grey',
};

export function ApprovalsPage() {
  const [status, setStatus] = useState('pending');
  const controls = useListControls();
  const list = useApi('listApprovals', {
    query: {
      status: status === 'all' ? undefined : status,
      'page[number]': controls.page,
      'page[size]': PAGE_SIZE,
    },
  });
  const canWrite = useCanWrite();
  const { pending, error, run } = useAction();
  const decide = async (request: ApprovalRequest, verdict: 'approve' | 'reject') => {
    const result = await run(() => call(verdict, { params: { id: request.id } }));
    if (result !== undefined) list.reload();
  };
  return (
    <Page
      title="Approvals"
      description="Calls that a Require approval policy held back. An approval is good for the one request."
    >
      <ListView
        controls={controls}
        toolbar={
          <label className="inline-field">
            Status
            <select
              value={status}
              onChange={(e) => {
                setStatus(e.target.value);
                controls.setPage(1);
              }}
            >
              {['pending', 'approved', 'rejected', 'used', 'all'].map((s) => (
                <option key={s} value={s}>
                  {s.charAt(0).toUpperCase() + s.slice(1)}
                </option>
              ))}
            </select>
          </label>
        }
        beforeTable={error !== undefined && <Alert>{error}</Alert>}
        caption="Approval requests"
        pagesLabel="Approvals"
        rows={list.data?.data}
        total={list.data?.total}
        pageSize={PAGE_SIZE}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        rowKey={(r) => r.id}
        empty={status === 'pending' ? 'Nothing waits for approval.' : 'No requests.'}
        columns={[
          {
            key: 'user',
            header: 'User',
            render: (r) => <Person name={r.end_user.name} email={r.end_user.email} />,
          },
          {
            key: 'feature',
            header: 'Feature',
            render: (r) => `${r.feature.name}${r.tool === null ? '' : ` · ${r.tool}`}`,
          },
          { key: 'env', header: 'Environment', render: (r) => r.environment_type.toUpperCase() },
          {
            key: 'status',
            header: 'Status',
            render: (r) => <Badge tone={APPROVAL_TONE[r.status]}>{r.status}</Badge>,
          },
          {
            key: 'created',
            header: 'Requested',
            render: (r) => <RelativeTime iso={r.created_at} />,
          },
          {
            key: 'actions',
            header: <span className="visually-hidden">Decide</span>,
            className: 'cell-actions',
            render: (r) =>
              canWrite &&
              r.status === 'pending' && (
                <span className="button-row">
                  <button
                    type="button"
                    className="button button-small button-primary"
                    disabled={pending}
                    onClick={() => void decide(r, 'approve')}
                  >
                    Approve
                  </button>
                  <button
                    type="button"
                    className="button button-small"
                    disabled={pending}
                    onClick={() => void decide(r, 'reject')}
                  >
                    Reject
                  </button>
                </span>
              ),
          },
        ]}
      />
    </Page>
  );
}
