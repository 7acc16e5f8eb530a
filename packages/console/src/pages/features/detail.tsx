/** One feature: who has access to it and its policies. */
import { useState } from 'react';
import { call, type Feature, type Policy } from '../../api/client';
import {
  Alert,
  Badge,
  Field,
  OpenButton,
  Page,
  Person,
  PickList,
  RelativeTime,
  TabPanel,
  Tabs,
  buttonColumn,
  useDebounced,
} from '../../components/ui';
import { ListView, useListControls } from '../../components/list-view';
import { ConfirmDialog, FormDialog } from '../../components/dialogs';
import { SelectField, TextField } from '../../components/fields';
import { useAction, useApi } from '../../hooks/use-api';
import { Link } from '../../router';
import { useCanWrite } from '../../session';
import { kindLabel, EFFECT_TONE, effectLabel } from '../../components/labels';
import { ApprovalStepsEditor, toApprovalSteps, type StepDraft } from './approval-steps';

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
    <ConfirmDialog
      title="Add end users"
      wide
      confirmLabel="Add"
      tone="primary"
      onConfirm={add}
      onCancel={onClose}
      pending={pending}
      ready={selected.length > 0}
      error={error}
    >
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
    </ConfirmDialog>
  );
}

/** A require_approval policy's chain, step by step ("Any admin" without one). */
function approversText(p: Policy): string {
  if (p.effect !== 'require_approval') return '—';
  if (p.approval_steps.length === 0) return 'Any admin';
  return p.approval_steps
    .map((step) =>
      [
        ...step.collaborators.map((c) => c.name),
        ...step.end_user_groups.map((g) => `${g.name} admins`),
      ].join(' or '),
    )
    .join(' → ');
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
  const [steps, setSteps] = useState<StepDraft[]>([]);
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
  const submit = async () => {
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
          ...(effect === 'require_approval' ? { approval_steps: toApprovalSteps(steps) } : {}),
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
    <FormDialog
      title={`New policy for ${feature.name}`}
      submitLabel="Create policy"
      onSubmit={submit}
      onCancel={onClose}
      pending={pending}
      error={error}
      wide
    >
      <TextField label="Policy name" required value={name} onChange={setName} />
      <SelectField
        label="Effect"
        hint="When policies disagree, deny beats require approval, which beats allow."
        value={effect}
        onChange={setEffect}
        options={(['allow', 'require_approval', 'deny'] as const).map((value) => ({
          value,
          label: effectLabel(value),
        }))}
      />
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
      {effect === 'require_approval' && (
        <ApprovalStepsEditor
          environmentType={feature.environment_type}
          steps={steps}
          onChange={setSteps}
        />
      )}
    </FormDialog>
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
        tabs={
          feature.kind === 'mcp_server'
            ? ['End user access', 'Policies', 'Upstream']
            : ['End user access', 'Policies']
        }
        active={tab}
        onChange={setTab}
      />
      <TabPanel tab={tab}>
        {tab === 'Policies' ? (
          <FeaturePolicies feature={feature} />
        ) : tab === 'Upstream' ? (
          <FeatureUpstream feature={feature} onSaved={features.reload} />
        ) : (
          <FeatureAccess feature={feature} />
        )}
      </TabPanel>
    </Page>
  );
}

function FeatureAccess({ feature }: { feature: Feature }) {
  const canWrite = useCanWrite(feature.environment_type);
  // The server pages the grants (a feature may have thousands), oldest first.
  const controls = useListControls();
  const access = useApi('listFeatureAccess', {
    params: { id: feature.id },
    query: { ...controls.pageQuery },
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
        <OpenButton show={canWrite} onOpen={setAdding}>
          Add end users
        </OpenButton>
      </div>
      {error !== undefined && <Alert>{error}</Alert>}
      <ListView
        list={controls.of(access)}
        caption="End user access"
        pagesLabel="Grants"
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
          buttonColumn({
            key: 'revoke',
            label: 'Revoke',
            show: canWrite,
            disabled: pending,
            onClick: revoke,
          }),
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
  const controls = useListControls();
  const policies = useApi('listPolicies', {
    query: { feature_id: feature.id, ...controls.pageQuery },
  });
  const [creating, setCreating] = useState(false);
  const { pending, error, run } = useAction();
  const remove = async (policy: Policy) => {
    const result = await run(() => call('deletePolicy', { params: { id: policy.id } }));
    if (result !== undefined) policies.reload();
  };
  return (
    <>
      <div className="toolbar toolbar-end">
        <OpenButton show={canWrite} onOpen={setCreating}>
          New policy
        </OpenButton>
      </div>
      {error !== undefined && <Alert>{error}</Alert>}
      <ListView
        list={controls.of(policies)}
        caption="Policies"
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
          { key: 'approvers', header: 'Approvers', render: approversText },
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
          buttonColumn({
            key: 'delete',
            label: 'Delete',
            show: canWrite,
            disabled: pending,
            onClick: remove,
          }),
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

/**
 * The upstream MCP server of an MCP server feature: where Roster's gateway forwards the calls it
 * allows (docs/agents.md). Header values are secrets: the API shows their names only, so the form
 * replaces them only when a header is given.
 */
function FeatureUpstream({ feature, onSaved }: { feature: Feature; onSaved: () => void }) {
  const canWrite = useCanWrite(feature.environment_type);
  const [editing, setEditing] = useState(false);
  const [url, setUrl] = useState(feature.upstream?.url ?? '');
  const [headerName, setHeaderName] = useState('');
  const [headerValue, setHeaderValue] = useState('');
  const { pending, error, run } = useAction();
  const save = async () => {
    const result = await run(() =>
      call('updateFeature', {
        params: { id: feature.id },
        body: {
          upstream: {
            url,
            ...(headerName.trim() === '' ? {} : { headers: { [headerName.trim()]: headerValue } }),
          },
        },
      }),
    );
    if (result !== undefined) {
      setEditing(false);
      setHeaderValue('');
      onSaved();
    }
  };
  return (
    <section aria-label="Upstream MCP server">
      {feature.upstream === undefined ? (
        <p>No upstream yet: the gateway answers 404 for this feature until one is set.</p>
      ) : (
        <dl className="facts">
          <dt>URL</dt>
          <dd className="mono">{feature.upstream.url}</dd>
          <dt>Headers sent</dt>
          <dd>
            {feature.upstream.header_names.length === 0
              ? 'None'
              : `${feature.upstream.header_names.join(', ')} (values stored encrypted, never shown)`}
          </dd>
          <dt>Gateway URL for agents</dt>
          <dd className="mono">{`${window.location.origin}/mcp/${String(feature.id)}`}</dd>
        </dl>
      )}
      {canWrite && (
        <button
          type="button"
          className="button"
          onClick={() => {
            setEditing(true);
          }}
        >
          {feature.upstream === undefined ? 'Set upstream' : 'Edit upstream'}
        </button>
      )}
      {editing && (
        <FormDialog
          title="Upstream MCP server"
          submitLabel="Save"
          onSubmit={save}
          onCancel={() => {
            setEditing(false);
          }}
          pending={pending}
          ready={url.trim() !== ''}
          error={error}
        >
          <TextField
            label="URL"
            required
            value={url}
            onChange={setUrl}
            placeholder="https://…/mcp"
          />
          <TextField
            label="Header name"
            hint="Optional. Given, it replaces the stored headers; empty keeps them."
            value={headerName}
            onChange={setHeaderName}
            placeholder="Authorization"
          />
          <TextField
            label="Header value"
            type="password"
            autoComplete="off"
            value={headerValue}
            onChange={setHeaderValue}
          />
        </FormDialog>
      )}
    </section>
  );
}
