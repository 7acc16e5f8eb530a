/** Collaborator groups: the list, creating and deleting a group, and its members. */
import { useState } from 'react';
import { call, type CollaboratorGroup } from '../../api/client';
import {
  Alert,
  Badge,
  Modal,
  OpenButton,
  Page,
  Person,
  PickList,
  RelativeTime,
  RowMenu,
  buttonColumn,
  useDebounced,
} from '../../components/ui';
import { ConfirmDialog, FormDialog } from '../../components/dialogs';
import { TextField } from '../../components/fields';
import { ListView, useListControls } from '../../components/list-view';
import { useAction, useApi } from '../../hooks/use-api';
import { useCanWrite } from '../../session';

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
  const controls = useListControls();
  const members = useApi('listUserGroupMembers', {
    params: { id: group.id },
    query: controls.pageQuery,
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
      <ListView
        list={controls.of(members)}
        caption="Group members"
        pagesLabel="Members"
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
          buttonColumn({
            key: 'remove',
            label: 'Remove',
            show: canWrite,
            disabled: pending,
            onClick: remove,
          }),
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
    query: { name, ...controls.pageQuery },
  });
  const { pending, error, run } = useAction();
  const create = async () => {
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
        <OpenButton show={canWrite} onOpen={setCreating}>
          Create group
        </OpenButton>
      }
    >
      <ListView
        list={controls.of(list)}
        searchLabel="Search groups"
        caption="Collaborator groups"
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
        <FormDialog
          title="Create collaborator group"
          submitLabel="Create"
          onSubmit={create}
          onCancel={() => {
            setCreating(false);
          }}
          pending={pending}
          error={error}
        >
          <TextField
            label="Name"
            required
            maxLength={200}
            value={form.name}
            onChange={(name) => {
              setForm({ ...form, name });
            }}
          />
          <TextField
            label="Description"
            multiline
            maxLength={300}
            value={form.description}
            onChange={(description) => {
              setForm({ ...form, description });
            }}
          />
        </FormDialog>
      )}
      {deleting !== null && (
        <ConfirmDialog
          title={`Delete ${deleting.name}?`}
          confirmLabel="Delete group"
          onConfirm={remove}
          onCancel={() => {
            setDeleting(null);
          }}
          pending={pending}
          error={error}
        >
          <p>
            The group’s {deleting.members_count} memberships and its project grants are deleted; its
            members lose what those grants gave them.
          </p>
        </ConfirmDialog>
      )}
    </Page>
  );
}
