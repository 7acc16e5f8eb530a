/** Collaborators: the workspace's members, their environment roles, editing and removing them. */
import { useState } from 'react';
import { call, type Member } from '../../api/client';
import { Badge, Page, Person, RelativeTime, RowMenu } from '../../components/ui';
import { ConfirmDialog } from '../../components/dialogs';
import { ListView, useListControls } from '../../components/list-view';
import { useAction, useApi } from '../../hooks/use-api';
import { useCanWrite, useSession } from '../../session';
import { EnvRolesEditor, toEnvRoles, roleTone } from '../../components/env-roles';

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
    query: { email, ...controls.pageQuery },
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
        list={controls.of(list)}
        searchLabel="Search by email"
        caption="Collaborators"
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
        <ConfirmDialog
          title={`Roles of ${editing.name}`}
          confirmLabel="Save"
          tone="primary"
          onConfirm={save}
          onCancel={() => {
            setEditing(null);
          }}
          pending={pending}
          error={error}
        >
          <EnvRolesEditor value={roles} onChange={setRoles} />
        </ConfirmDialog>
      )}
      {removing !== null && (
        <ConfirmDialog
          title={`Remove ${removing.name}?`}
          confirmLabel="Remove"
          onConfirm={remove}
          onCancel={() => {
            setRemoving(null);
          }}
          pending={pending}
          error={error}
        >
          <p>
            {removing.name} loses every role, group membership and project grant in this workspace
            at once.
          </p>
        </ConfirmDialog>
      )}
    </Page>
  );
}
