/** One end-user group: its users, its console roles, its settings and deleting it (with the impact first). */
import { useId, useState, type SubmitEvent } from 'react';
import { call, type DeletionImpact, type EndUserGroup } from '../../api/client';
import {
  Alert,
  Field,
  OpenButton,
  Page,
  Person,
  RelativeTime,
  SearchBox,
  TabPanel,
  Tabs,
  usePopover,
} from '../../components/ui';
import { ListView, useListControls } from '../../components/list-view';
import { useAction, useApi } from '../../hooks/use-api';
import { Link, useRouter } from '../../router';
import { useCanWrite } from '../../session';
import { UserPicker } from '../../components/user-picker';
import { ConfirmDialog } from '../../components/dialogs';
import { TextField } from '../../components/fields';

const ROLES = ['Admin', 'Read Only'] as const;
type Role = EndUserGroup['roles'][number];

function RolesDropdown({
  value,
  onChange,
  disabled,
}: {
  value: Role[];
  onChange: (roles: Role[]) => void;
  disabled: boolean;
}) {
  const { open, setOpen, ref } = usePopover('input[type="search"]');
  const [search, setSearch] = useState('');
  const listId = useId();
  const labelId = useId();
  const valueId = useId();
  const shown = ROLES.filter((r) => r.toLowerCase().includes(search.toLowerCase()));
  return (
    <div
      className="field dropdown"
      ref={ref}
      onKeyDown={(e) => {
        if (e.key === 'Escape') setOpen(false);
      }}
    >
      <span id={labelId} className="label">
        Assign roles
      </span>
      <button
        type="button"
        className="select-button"
        aria-labelledby={`${labelId} ${valueId}`}
        aria-haspopup="dialog"
        aria-expanded={open}
        aria-controls={listId}
        disabled={disabled}
        onClick={() => {
          setOpen(!open);
        }}
      >
        <span id={valueId}>{value.length === 0 ? 'No roles' : value.join(', ')}</span>
        <span aria-hidden="true">▾</span>
      </button>
      {open && (
        <div className="dropdown-panel" id={listId}>
          <SearchBox label="Search roles" value={search} onChange={setSearch} />
          {shown.length === 0 && <p className="muted">No role matches.</p>}
          {shown.map((role) => (
            <label key={role} className="check-row">
              <input
                type="checkbox"
                checked={value.includes(role)}
                onChange={() => {
                  onChange(
                    value.includes(role) ? value.filter((r) => r !== role) : [...value, role],
                  );
                }}
              />
              {role}
              <span className="muted small">
                {role === 'Admin'
                  ? ' — can change everything in the console'
                  : ' — can see everything, change nothing'}
              </span>
            </label>
          ))}
        </div>
      )}
      <p className="hint">Console access for the group’s members.</p>
    </div>
  );
}

function ImpactList({ impact }: { impact: DeletionImpact }) {
  return (
    <>
      <p>
        Deleting <strong>{impact.group.name}</strong> keeps its users. It removes the group from{' '}
        {impact.feature_grants.length} feature grant
        {impact.feature_grants.length === 1 ? '' : 's'} and {impact.policies.length} polic
        {impact.policies.length === 1 ? 'y' : 'ies'}.
      </p>
      {impact.users.filter((u) => u.loses.length > 0).length === 0 ? (
        <Alert tone="info">No user loses access: nobody depends on this group alone.</Alert>
      ) : (
        <>
          <h3>Who would lose what</h3>
          <ul className="impact">
            {impact.users
              .filter((u) => u.loses.length > 0)
              .map((u) => (
                <li key={u.id}>
                  <Person name={u.name} email={u.email} />
                  <ul>
                    {u.loses.map((l) => (
                      <li key={`${l.type}-${l.id}`}>
                        {l.type === 'feature_grant'
                          ? `Access to ${l.name}`
                          : `Policy ${l.name} (${l.effect ?? ''})`}
                      </li>
                    ))}
                  </ul>
                </li>
              ))}
          </ul>
        </>
      )}
    </>
  );
}

export function GroupDetailPage({ id }: { id: number }) {
  const group = useApi('getEndUserGroup', { params: { id } });
  const [tab, setTab] = useState('Users');
  const g = group.data?.data;
  const back = (
    <Link to="/groups" className="back-link">
      ← Back
    </Link>
  );
  if (group.error !== undefined) {
    return (
      <Page title="Group" back={back}>
        <Alert>{group.error}</Alert>
      </Page>
    );
  }
  if (g === undefined) {
    return (
      <Page title="Group" back={back}>
        <p>Loading…</p>
      </Page>
    );
  }
  return (
    <Page
      title={g.name}
      back={back}
      description={`${g.environment_type.toUpperCase()} · ${g.users_count} user${g.users_count === 1 ? '' : 's'}`}
    >
      {g.managed_by === 'external' && (
        <Alert tone="warning">
          This group is externally managed: membership changes made here may be overwritten on the
          next sync from your identity provider. To make permanent changes, update the group in your
          IdP.
        </Alert>
      )}
      <Tabs label="Group sections" tabs={['Users', 'Settings']} active={tab} onChange={setTab} />
      <TabPanel tab={tab}>
        {tab === 'Users' ? (
          <GroupUsers group={g} onChange={group.reload} />
        ) : (
          <GroupSettings group={g} onChange={group.reload} />
        )}
      </TabPanel>
    </Page>
  );
}

function GroupUsers({ group, onChange }: { group: EndUserGroup; onChange: () => void }) {
  const canWrite = useCanWrite(group.environment_type) && !group.system;
  // The sort orders the page shown, so it keeps the page.
  const controls = useListControls({ key: 'joined', direction: 'desc' }, { sortKeepsPage: true });
  const [assigning, setAssigning] = useState(false);
  const [selected, setSelected] = useState<string[]>([]);
  const members = useApi('listEndUserGroupMembers', {
    params: { id: group.id },
    query: { ...controls.pageQuery },
  });
  const { pending, error, run } = useAction();
  const remove = async (userId: number) => {
    const result = await run(() =>
      call('removeEndUserGroupMembers', {
        params: { id: group.id },
        body: { end_user_ids: [userId] },
      }),
    );
    if (result !== undefined) {
      members.reload();
      onChange();
    }
  };
  const assign = async () => {
    const result = await run(() =>
      call('addEndUserGroupMembers', {
        params: { id: group.id },
        body: { end_user_ids: selected.map(Number) },
      }),
    );
    if (result !== undefined) {
      setAssigning(false);
      setSelected([]);
      members.reload();
      onChange();
    }
  };
  return (
    <>
      <ListView
        list={controls.of(members)}
        beforeTable={
          <>
            <div className="toolbar toolbar-end">
              <OpenButton show={canWrite} onOpen={setAssigning}>
                Assign Users
              </OpenButton>
            </div>
            {error !== undefined && !assigning && <Alert>{error}</Alert>}
            {group.system && (
              <Alert tone="info">
                Everyone holds every end user with access to {group.environment_type.toUpperCase()},
                automatically.
              </Alert>
            )}
          </>
        }
        caption="Group members"
        pagesLabel="Members"
        rowKey={(m) => m.id}
        empty="This group has no members."
        columns={[
          {
            key: 'member',
            header: 'Member',
            sort: (m) => m.name.toLowerCase(),
            render: (m) => <Person name={m.name} email={m.email} avatarUrl={m.avatar_url} />,
          },
          {
            key: 'joined',
            header: 'Joined Group',
            sort: (m) => m.joined_at,
            render: (m) => <RelativeTime iso={m.joined_at} />,
          },
          {
            key: 'remove',
            header: <span className="visually-hidden">Remove</span>,
            className: 'cell-menu',
            render: (m) =>
              canWrite && (
                <button
                  type="button"
                  className="icon-button"
                  aria-label={`Remove ${m.name} from the group`}
                  disabled={pending}
                  onClick={() => void remove(m.id)}
                >
                  {/* An inline icon: emoji glyphs are missing from many Linux fonts. */}
                  <svg
                    width="16"
                    height="16"
                    viewBox="0 0 24 24"
                    aria-hidden="true"
                    focusable="false"
                  >
                    <path
                      fill="none"
                      stroke="currentColor"
                      strokeWidth="2"
                      strokeLinecap="round"
                      strokeLinejoin="round"
                      d="M3 6h18M8 6V4h8v2M6 6l1 14h10l1-14M10 11v6M14 11v6"
                    />
                  </svg>
                </button>
              ),
          },
        ]}
      />
      {assigning && (
        <ConfirmDialog
          title="Assign Users"
          wide
          tone="primary"
          confirmLabel={
            <>
              Assign {selected.length > 0 ? selected.length : ''} user
              {selected.length === 1 ? '' : 's'}
            </>
          }
          onConfirm={assign}
          onCancel={() => {
            setAssigning(false);
          }}
          pending={pending}
          ready={selected.length > 0}
          error={error}
        >
          <UserPicker
            environment={group.environment_type}
            exclude={(members.data?.data ?? []).map((m) => m.id)}
            selected={selected}
            onChange={setSelected}
            label="Available users"
          />
        </ConfirmDialog>
      )}
    </>
  );
}

function GroupSettings({ group, onChange }: { group: EndUserGroup; onChange: () => void }) {
  const canWrite = useCanWrite(group.environment_type) && !group.system;
  const initial = {
    name: group.name,
    description: group.description ?? '',
    roles: [...group.roles],
  };
  const [form, setForm] = useState(initial);
  const [impact, setImpact] = useState<DeletionImpact | null>(null);
  const [saved, setSaved] = useState(false);
  const { pending, error, run } = useAction();
  const { navigate } = useRouter();
  const dirty = JSON.stringify(form) !== JSON.stringify(initial);
  const save = async (event: SubmitEvent) => {
    event.preventDefault();
    const result = await run(() =>
      call('patchEndUserGroup', {
        params: { id: group.id },
        body: {
          name: form.name,
          description: form.description === '' ? null : form.description,
          roles: form.roles,
        },
      }),
    );
    if (result !== undefined) {
      setSaved(true);
      onChange();
    }
  };
  const review = async () => {
    const result = await run(() =>
      call('deleteEndUserGroup', { params: { id: group.id }, query: { dry_run: true } }),
    );
    if (result !== undefined && result !== null) setImpact(result.data);
  };
  const remove = async () => {
    const result = await run(() => call('deleteEndUserGroup', { params: { id: group.id } }));
    if (result !== undefined) navigate('/groups');
  };
  return (
    <>
      <form className="form card" onSubmit={(e) => void save(e)}>
        {error !== undefined && impact === null && <Alert>{error}</Alert>}
        {saved && !dirty && <Alert tone="success">Changes saved.</Alert>}
        <TextField
          label="Group name"
          required
          maxLength={200}
          disabled={!canWrite}
          value={form.name}
          onChange={(name) => {
            setForm({ ...form, name });
          }}
        />
        <Field label="Group ID" hint="Read-only, generated by Roster.">
          {(id) => <input id={id} readOnly value={String(group.id)} className="mono" />}
        </Field>
        <TextField
          label="Description"
          multiline
          maxLength={300}
          disabled={!canWrite}
          value={form.description}
          onChange={(description) => {
            setForm({ ...form, description });
          }}
        />
        <RolesDropdown
          value={form.roles}
          onChange={(roles) => {
            setForm({ ...form, roles });
          }}
          disabled={!canWrite}
        />
        {canWrite && (
          <div className="form-actions">
            <button
              type="button"
              className="button"
              disabled={!dirty}
              onClick={() => {
                setForm(initial);
              }}
            >
              Cancel
            </button>
            <button type="submit" className="button button-primary" disabled={!dirty || pending}>
              Save
            </button>
          </div>
        )}
      </form>
      {canWrite && (
        <section className="card danger-zone" aria-labelledby="delete-heading">
          <h2 id="delete-heading">Delete Group</h2>
          <p>
            Deleting a group does not delete its users: they stay in the system but are no longer
            associated with the group. It removes the group from every policy and feature grant that
            references it, so users covered only through it lose that access.
          </p>
          <button
            type="button"
            className="button button-danger"
            disabled={pending}
            onClick={() => void review()}
          >
            Delete Group…
          </button>
        </section>
      )}
      {impact !== null && (
        <ConfirmDialog
          title={`Delete ${group.name}?`}
          wide
          confirmLabel="Delete group"
          onConfirm={remove}
          onCancel={() => {
            setImpact(null);
          }}
          pending={pending}
          error={error}
        >
          <ImpactList impact={impact} />
        </ConfirmDialog>
      )}
    </>
  );
}
