/** Collaborators (workspace members), their groups, and invitations. */
import { useState, type SubmitEvent } from 'react';
import {
  ApiError,
  call,
  type CollaboratorGroup,
  type Invitation,
  type Member,
} from '../api/client';
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
  RowMenu,
  useDebounced,
  type Tone,
} from '../components/ui';
import { ListView, useListControls } from '../components/list-view';
import { useAction, useApi } from '../hooks/use-api';
import { useCanWrite, useSession } from '../session';

const PAGE_SIZE = 25;

/** Per-environment role pickers (legacy roles and environment roles). */
function EnvRolesEditor({
  value,
  onChange,
}: {
  value: Record<string, string>;
  onChange: (v: Record<string, string>) => void;
}) {
  const { session } = useSession();
  const legacy = useApi('listLegacyRoles', { query: { 'page[size]': 100 } });
  const envRoles = useApi('listEnvironmentRoles', { query: { 'page[size]': 100 } });
  const options = [
    ...(legacy.data?.data ?? []).map((r) => ({
      value: `privilege_group:${r.name}`,
      label: r.name,
    })),
    ...(envRoles.data?.data ?? []).map((r) => ({
      value: `environment:${r.name}`,
      label: `${r.name} (environment role)`,
    })),
  ];
  return (
    <fieldset>
      <legend>Role in each environment</legend>
      {session.environment_types.map((env) => (
        <Field key={env} label={env.toUpperCase()}>
          {(id) => (
            <select
              id={id}
              value={value[env] ?? NO_ACCESS}
              onChange={(e) => {
                onChange({ ...value, [env]: e.target.value });
              }}
            >
              {options.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </select>
          )}
        </Field>
      ))}
    </fieldset>
  );
}
/** The role an environment left alone gets: the API's own default for an invitation. */
const NO_ACCESS = 'privilege_group:No access';

const toEnvRoles = (value: Record<string, string>) =>
  Object.entries(value).map(([environment_type, v]) => {
    const [role_type, ...rest] = v.split(':');
    return {
      environment_type,
      name: rest.join(':'),
      role_type: role_type as 'privilege_group' | 'environment',
    };
  });

function roleTone(name: string): Tone {
  return name === 'Admin' || name === 'EnvironmentAdmin'
    ? 'purple'
    : name === 'No access'
      ? 'grey'
      : 'blue';
}

export function CollaboratorsPage() {
  const { session } = useSession();
  const canWrite = useCanWrite('dev');
  // The sort orders the page shown, so it keeps the page; a new search starts at page 1.
  const controls = useListControls({ key: 'name', direction: 'asc' }, { sortKeepsPage: true });
  const email = controls.query;
  const [editing, setEditing] = useState<Member | null>(null);
  const [removing, setRemoving] = useState<Member | null>(null);
  const [roles, setRoles] = useState<Record<string, string>>({});
  const list = useApi('listMembers', {
    query: { email, 'page[number]': controls.page, 'page[size]': PAGE_SIZE },
  });
  const { pending, error, run } = useAction();
  const save = async () => {
    if (editing === null) return;
    const result = await run(() =>
      call('updateMember', { params: { id: editing.id }, body: { env_roles: toEnvRoles(roles) } }),
    );
    if (result !== undefined) {
      setEditing(null);
      list.reload();
    }
  };
  const remove = async () => {
    if (removing === null) return;
    const result = await run(() => call('deleteMember', { params: { id: removing.id } }));
    if (result !== undefined) {
      setRemoving(null);
      list.reload();
    }
  };
  return (
    <Page
      title="Collaborators"
      description="People who build in this workspace, with their role in each environment."
    >
      <ListView
        controls={controls}
        searchLabel="Search by email"
        caption="Collaborators"
        rows={list.data?.data}
        total={list.data?.total}
        pageSize={PAGE_SIZE}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        rowKey={(m) => m.id}
        empty={
          email === ''
            ? 'No collaborators yet: invite one.'
            : `No collaborator’s email contains “${email}”.`
        }
        columns={[
          {
            key: 'name',
            header: 'Collaborator',
            sort: (m) => m.name.toLowerCase(),
            render: (m) => <Person name={m.name} email={m.email} />,
          },
          {
            key: 'roles',
            header: 'Roles',
            render: (m) => (
              <span className="badge-list">
                {m.roles.map((r) => (
                  <Badge key={r.environment_type} tone={roleTone(r.role_name)}>
                    {r.environment_type.toUpperCase()}: {r.role_name}
                  </Badge>
                ))}
              </span>
            ),
          },
          {
            key: 'groups',
            header: 'Groups',
            sort: (m) => m.user_groups.length,
            render: (m) => m.user_groups.map((g) => g.name).join(', '),
          },
          {
            key: 'activity',
            header: 'Last activity',
            sort: (m) => m.last_activity_log?.created_at ?? '',
            render: (m) => <RelativeTime iso={m.last_activity_log?.created_at} />,
          },
          {
            key: 'created',
            header: 'Joined',
            sort: (m) => m.created_at,
            render: (m) => <RelativeTime iso={m.created_at} />,
          },
          {
            key: 'menu',
            header: <span className="visually-hidden">Actions</span>,
            className: 'cell-menu',
            render: (m) =>
              canWrite &&
              // Not oneself (an end user's session has an end-user ID, which is no member's).
              !(session.principal === 'collaborator' && m.id === session.member.id) && (
                <RowMenu
                  label={`Actions for ${m.name}`}
                  items={[
                    {
                      label: 'Edit roles',
                      onSelect: () => {
                        setRoles(
                          Object.fromEntries(
                            m.roles.map((r) => [
                              r.environment_type,
                              `${r.role_type}:${r.role_name}`,
                            ]),
                          ),
                        );
                        setEditing(m);
                      },
                    },
                    {
                      label: 'Remove from workspace',
                      danger: true,
                      onSelect: () => {
                        setRemoving(m);
                      },
                    },
                  ]}
                />
              ),
          },
        ]}
      />
      {editing !== null && (
        <Modal
          title={`Roles of ${editing.name}`}
          onClose={() => {
            setEditing(null);
          }}
          footer={
            <>
              <button
                type="button"
                className="button"
                onClick={() => {
                  setEditing(null);
                }}
              >
                Cancel
              </button>
              <button
                type="button"
                className="button button-primary"
                disabled={pending}
                onClick={() => void save()}
              >
                Save
              </button>
            </>
          }
        >
          {error !== undefined && <Alert>{error}</Alert>}
          <EnvRolesEditor value={roles} onChange={setRoles} />
        </Modal>
      )}
      {removing !== null && (
        <Modal
          title={`Remove ${removing.name}?`}
          onClose={() => {
            setRemoving(null);
          }}
          footer={
            <>
              <button
                type="button"
                className="button"
                onClick={() => {
                  setRemoving(null);
                }}
              >
                Cancel
              </button>
              <button
                type="button"
                className="button button-danger"
                disabled={pending}
                onClick={() => void remove()}
              >
                Remove
              </button>
            </>
          }
        >
          {error !== undefined && <Alert>{error}</Alert>}
          <p>
            {removing.name} loses every role, group membership and project grant in this workspace
            at once.
          </p>
        </Modal>
      )}
    </Page>
  );
}

function GroupMembersDialog({
  group,
  onClose,
  onChanged,
}: {
  group: CollaboratorGroup;
  onClose: () => void;
  onChanged: () => void;
}) {
  const canWrite = useCanWrite('dev') && !group.system;
  const members = useApi('listUserGroupMembers', {
    params: { id: group.id },
    query: { 'page[size]': 100 },
  });
  const [search, setSearch] = useState('');
  const email = useDebounced(search);
  const candidates = useApi(
    'listMembers',
    canWrite ? { query: { email, 'page[size]': 50 } } : null,
  );
  const [selected, setSelected] = useState<string[]>([]);
  const { pending, error, run } = useAction();
  const memberIds = (members.data?.data ?? []).map((m) => m.user_id);
  const add = async () => {
    const result = await run(() =>
      call('addUserGroupMembers', {
        params: { id: group.id },
        body: { user_ids: selected.map(Number) },
      }),
    );
    if (result !== undefined) {
      setSelected([]);
      members.reload();
      onChanged();
    }
  };
  const remove = async (member: {
    user_id: number | null;
    member_invitation_id: number | null;
  }) => {
    const query =
      member.user_id !== null
        ? { 'user_ids[]': [member.user_id] }
        : { 'member_invitation_ids[]': [member.member_invitation_id ?? 0] };
    const result = await run(() =>
      call('removeUserGroupMembers', { params: { id: group.id }, query }),
    );
    if (result !== undefined) {
      members.reload();
      onChanged();
    }
  };
  return (
    <Modal title={`Members of ${group.name}`} onClose={onClose} wide>
      {error !== undefined && <Alert>{error}</Alert>}
      {group.system && <Alert tone="info">Every collaborator belongs to {group.name}.</Alert>}
      <DataTable
        caption="Group members"
        rows={members.data?.data}
        loading={members.loading}
        error={members.error}
        rowKey={(m) => `${m.user_id ?? 'i'}-${m.member_invitation_id ?? ''}`}
        empty="No members yet."
        columns={[
          { key: 'who', header: 'Member', render: (m) => <Person name={m.name} email={m.email} /> },
          {
            key: 'type',
            header: 'Type',
            render: (m) =>
              m.type === 'User' ? 'Collaborator' : <Badge tone="blue">Invited</Badge>,
          },
          { key: 'joined', header: 'Joined', render: (m) => <RelativeTime iso={m.joined_at} /> },
          {
            key: 'remove',
            header: <span className="visually-hidden">Remove</span>,
            className: 'cell-menu',
            render: (m) =>
              canWrite && (
                <button
                  type="button"
                  className="button button-small"
                  disabled={pending}
                  onClick={() => void remove(m)}
                >
                  Remove
                </button>
              ),
          },
        ]}
      />
      {canWrite && (
        <>
          <PickList
            label="Add collaborators"
            items={(candidates.data?.data ?? []).filter((m) => !memberIds.includes(m.id))}
            itemKey={(m) => String(m.id)}
            render={(m) => <Person name={m.name} email={m.email} />}
            selected={selected}
            onChange={setSelected}
            search={search}
            onSearch={setSearch}
            emptyText="No collaborator to add."
          />
          <div className="modal-footer">
            <button
              type="button"
              className="button button-primary"
              disabled={selected.length === 0 || pending}
              onClick={() => void add()}
            >
              Add to group
            </button>
          </div>
        </>
      )}
    </Modal>
  );
}

export function CollaboratorGroupsPage() {
  const canWrite = useCanWrite('dev');
  const controls = useListControls({ key: 'name', direction: 'asc' });
  const name = controls.query;
  const [open, setOpen] = useState<CollaboratorGroup | null>(null);
  const [creating, setCreating] = useState(false);
  const [form, setForm] = useState({ name: '', description: '' });
  const [deleting, setDeleting] = useState<CollaboratorGroup | null>(null);
  const list = useApi('listUserGroups', {
    query: { name, 'page[number]': controls.page, 'page[size]': PAGE_SIZE },
  });
  const { pending, error, run } = useAction();
  const create = async (event: SubmitEvent) => {
    event.preventDefault();
    const result = await run(() =>
      call('createUserGroup', {
        body: {
          user_group: {
            name: form.name,
            description: form.description === '' ? null : form.description,
          },
        },
      }),
    );
    if (result !== undefined) {
      setCreating(false);
      setForm({ name: '', description: '' });
      list.reload();
    }
  };
  const remove = async () => {
    if (deleting === null) return;
    const result = await run(() => call('deleteUserGroup', { params: { id: deleting.id } }));
    if (result !== undefined) {
      setDeleting(null);
      list.reload();
    }
  };
  return (
    <Page
      title="Collaborator groups"
      description="Groups of collaborators, for project grants to many people at once."
      actions={
        canWrite && (
          <button
            type="button"
            className="button button-primary"
            onClick={() => {
              setCreating(true);
            }}
          >
            Create group
          </button>
        )
      }
    >
      <ListView
        controls={controls}
        searchLabel="Search groups"
        caption="Collaborator groups"
        rows={list.data?.data}
        total={list.data?.total}
        pageSize={PAGE_SIZE}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        rowKey={(g) => g.id}
        empty={name === '' ? 'No groups yet.' : `No group name contains “${name}”.`}
        columns={[
          {
            key: 'name',
            header: 'Name',
            sort: (g) => g.name.toLowerCase(),
            render: (g) => (
              <button
                type="button"
                className="link-button"
                onClick={() => {
                  setOpen(g);
                }}
              >
                {g.name}
              </button>
            ),
          },
          {
            key: 'description',
            header: 'Description',
            render: (g) => g.description ?? <span className="muted">—</span>,
          },
          {
            key: 'members',
            header: 'Members',
            sort: (g) => g.members_count,
            render: (g) => g.members_count,
            className: 'num',
          },
          {
            key: 'type',
            header: 'Type',
            render: (g) => (g.system ? <Badge tone="grey">System</Badge> : 'Custom'),
          },
          {
            key: 'menu',
            header: <span className="visually-hidden">Actions</span>,
            className: 'cell-menu',
            render: (g) => (
              <RowMenu
                label={`Actions for ${g.name}`}
                items={[
                  {
                    label: 'Members',
                    onSelect: () => {
                      setOpen(g);
                    },
                  },
                  ...(canWrite && !g.system
                    ? [
                        {
                          label: 'Delete group',
                          danger: true,
                          onSelect: () => {
                            setDeleting(g);
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
      {open !== null && (
        <GroupMembersDialog
          group={open}
          onClose={() => {
            setOpen(null);
          }}
          onChanged={list.reload}
        />
      )}
      {creating && (
        <Modal
          title="Create collaborator group"
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
                  maxLength={200}
                  value={form.name}
                  onChange={(e) => {
                    setForm({ ...form, name: e.target.value });
                  }}
                />
              )}
            </Field>
            <Field label="Description">
              {(id) => (
                <textarea
                  id={id}
                  maxLength={300}
                  value={form.description}
                  onChange={(e) => {
                    setForm({ ...form, description: e.target.value });
                  }}
                />
              )}
            </Field>
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
              <button type="submit" className="button button-primary" disabled={pending}>
                Create
              </button>
            </div>
          </form>
        </Modal>
      )}
      {deleting !== null && (
        <Modal
          title={`Delete ${deleting.name}?`}
          onClose={() => {
            setDeleting(null);
          }}
          footer={
            <>
              <button
                type="button"
                className="button"
                onClick={() => {
                  setDeleting(null);
                }}
              >
                Cancel
              </button>
              <button
                type="button"
                className="button button-danger"
                disabled={pending}
                onClick={() => void remove()}
              >
                Delete group
              </button>
            </>
          }
        >
          {error !== undefined && <Alert>{error}</Alert>}
          <p>
            The group’s {deleting.members_count} memberships and its project grants are deleted; its
            members lose what those grants gave them.
          </p>
        </Modal>
      )}
    </Page>
  );
}

interface Notice {
  tone: 'success' | 'warning';
  text: string;
}

const INVITATION_TONE: Record<string, Tone> = {
  pending: 'amber',
  accepted: 'green',
  revoked: 'grey',
  expired: 'red',
};

export function InvitationsPage() {
  const canWrite = useCanWrite('dev');
  const [status, setStatus] = useState('pending');
  // A new search keeps the page (as it always has); a new status starts at page 1.
  const controls = useListControls(undefined, { searchKeepsPage: true });
  const email = controls.query;
  const [inviting, setInviting] = useState(false);
  const [form, setForm] = useState({ name: '', email: '' });
  // Nothing chosen means No access everywhere, as the API does for environments left out.
  const [roles, setRoles] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState<Notice | undefined>();
  /** A pending invitation found for the email the dialog tried to invite again. */
  const [alreadyInvited, setAlreadyInvited] = useState<Invitation | null>(null);
  const { session } = useSession();
  // Say what happened to the mail: without SMTP it only reached the server's outbox file.
  const mailed = (what: string, email: string): Notice =>
    session.mail_delivery === 'smtp'
      ? { tone: 'success', text: `${what} mailed to ${email}.` }
      : {
          tone: 'warning',
          text: `${what} for ${email} created, but not mailed: no mail server is configured (ROSTER_SMTP_URL), so the mail was only written to the server’s outbox file.`,
        };
  const list = useApi('listInvitations', {
    query: {
      status: status === 'all' ? undefined : status,
      email,
      'page[number]': controls.page,
      'page[size]': PAGE_SIZE,
    },
  });
  const { pending, error, setError, run } = useAction();
  const closeDialog = () => {
    setInviting(false);
    setAlreadyInvited(null);
    setError(undefined);
  };
  const invite = async (event: SubmitEvent) => {
    event.preventDefault();
    setAlreadyInvited(null);
    // Every environment the dialog shows is sent, left-alone ones as No access (the API wants
    // at least one, and gives No access to the ones left out).
    const env_roles = toEnvRoles(
      Object.fromEntries(session.environment_types.map((env) => [env, roles[env] ?? NO_ACCESS])),
    );
    const result = await run(async () => {
      try {
        return await call('createInvitation', { body: { ...form, env_roles } });
      } catch (caught) {
        // 429 is also what inviting an email with a pending invitation answers: find it, so
        // the dialog can say so and offer to resend it.
        if (caught instanceof ApiError && caught.status === 429) {
          const found = await call('listInvitations', {
            query: { status: 'pending', email: form.email.trim(), 'page[size]': 100 },
          }).catch(() => undefined);
          const match = found?.data.find(
            (i) => i.email.toLowerCase() === form.email.trim().toLowerCase(),
          );
          if (match !== undefined) setAlreadyInvited(match);
        }
        throw caught;
      }
    });
    if (result !== undefined) {
      setInviting(false);
      setNotice(mailed('Invitation', form.email));
      setForm({ name: '', email: '' });
      setRoles({});
      list.reload();
    }
  };
  const act = async (id: number, action: 'resendInvitation' | 'revokeInvitation', text: Notice) => {
    const result = await run(() => call(action, { params: { id } }));
    if (result !== undefined) {
      setNotice(text);
      list.reload();
    }
    return result !== undefined;
  };
  const resendExisting = async (invitation: Invitation) => {
    if (
      await act(invitation.id, 'resendInvitation', mailed('New invitation link', invitation.email))
    )
      closeDialog();
  };
  return (
    <Page
      title="Invitations"
      description="Invitations to collaborate. A link works once and expires after 7 days."
      actions={
        canWrite && (
          <button
            type="button"
            className="button button-primary"
            onClick={() => {
              setInviting(true);
            }}
          >
            Invite collaborator
          </button>
        )
      }
    >
      <ListView
        controls={controls}
        searchLabel="Search by email"
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
              {['pending', 'accepted', 'revoked', 'expired', 'all'].map((s) => (
                <option key={s} value={s}>
                  {s.charAt(0).toUpperCase() + s.slice(1)}
                </option>
              ))}
            </select>
          </label>
        }
        beforeTable={
          <>
            {notice !== undefined && <Alert tone={notice.tone}>{notice.text}</Alert>}
            {error !== undefined && !inviting && <Alert>{error}</Alert>}
          </>
        }
        caption="Invitations"
        rows={list.data?.data}
        total={list.data?.total}
        pageSize={PAGE_SIZE}
        loading={list.loading}
        error={list.error}
        onRetry={list.reload}
        rowKey={(i) => i.id}
        empty={status === 'pending' ? 'No pending invitations.' : 'No invitations.'}
        columns={[
          {
            key: 'who',
            header: 'Invitee',
            render: (i) => <Person name={i.name} email={i.email} />,
          },
          {
            key: 'roles',
            header: 'Roles',
            render: (i) =>
              i.env_roles.map((r) => `${r.environment_type.toUpperCase()}: ${r.name}`).join(', '),
          },
          {
            key: 'status',
            header: 'Status',
            render: (i) => <Badge tone={INVITATION_TONE[i.status]}>{i.status}</Badge>,
          },
          { key: 'sent', header: 'Sent', render: (i) => <RelativeTime iso={i.created_at} /> },
          { key: 'expires', header: 'Expires', render: (i) => <RelativeTime iso={i.expires_at} /> },
          {
            key: 'actions',
            header: <span className="visually-hidden">Actions</span>,
            className: 'cell-actions',
            render: (i) =>
              canWrite &&
              i.status === 'pending' && (
                <span className="button-row">
                  <button
                    type="button"
                    className="button button-small"
                    disabled={pending}
                    onClick={() =>
                      void act(i.id, 'resendInvitation', mailed('New invitation link', i.email))
                    }
                  >
                    Resend
                  </button>
                  <button
                    type="button"
                    className="button button-small button-danger"
                    disabled={pending}
                    onClick={() =>
                      void act(i.id, 'revokeInvitation', {
                        tone: 'success',
                        text: `Invitation to ${i.email} revoked.`,
                      })
                    }
                  >
                    Revoke
                  </button>
                </span>
              ),
          },
        ]}
      />
      {inviting && (
        <Modal title="Invite collaborator" onClose={closeDialog}>
          <form className="form" onSubmit={(e) => void invite(e)}>
            {alreadyInvited !== null ? (
              <Alert tone="warning">
                <p>
                  {alreadyInvited.email} is already invited: the invitation sent{' '}
                  <RelativeTime iso={alreadyInvited.created_at} /> is pending. Resend it rather than
                  inviting again.
                </p>
                {error !== undefined && <p className="muted">{error}</p>}
                <button
                  type="button"
                  className="button button-small"
                  disabled={pending}
                  onClick={() => void resendExisting(alreadyInvited)}
                >
                  Resend invitation
                </button>
              </Alert>
            ) : (
              error !== undefined && <Alert>{error}</Alert>
            )}
            <Field label="Name">
              {(id) => (
                <input
                  id={id}
                  required
                  value={form.name}
                  onChange={(e) => {
                    setForm({ ...form, name: e.target.value });
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
                  value={form.email}
                  onChange={(e) => {
                    setForm({ ...form, email: e.target.value });
                  }}
                />
              )}
            </Field>
            <EnvRolesEditor value={roles} onChange={setRoles} />
            <div className="modal-footer">
              <button type="button" className="button" onClick={closeDialog}>
                Cancel
              </button>
              <button type="submit" className="button button-primary" disabled={pending}>
                Send invitation
              </button>
            </div>
          </form>
        </Modal>
      )}
    </Page>
  );
}
