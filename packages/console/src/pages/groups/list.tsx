/** End-user groups of the chosen environment: the list and creating a group. */
import { useState } from 'react';
import { call, type EndUserGroup } from '../../api/client';
import { Badge, OpenButton, Page } from '../../components/ui';
import { ListView, useListControls } from '../../components/list-view';
import { useAction, useApi } from '../../hooks/use-api';
import { Link, useRouter } from '../../router';
import { useCanWrite, useSession } from '../../session';
import { UserPicker } from '../../components/user-picker';
import { FormDialog } from '../../components/dialogs';
import { TextField } from '../../components/fields';

function ManagedBy({ group }: { group: EndUserGroup }) {
  if (group.system) return <Badge tone="grey">System</Badge>;
  return group.managed_by === 'external' ? (
    <Badge tone="purple">Externally managed</Badge>
  ) : (
    <span>Manual</span>
  );
}

function CreateGroupDialog({
  onClose,
  onCreated,
}: {
  onClose: () => void;
  onCreated: (group: EndUserGroup) => void;
}) {
  const { environment } = useSession();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [members, setMembers] = useState<string[]>([]);
  const { pending, error, run } = useAction();
  const submit = async () => {
    const result = await run(() =>
      call('createEndUserGroup', {
        body: {
          environment_type: environment,
          name,
          description: description === '' ? null : description,
          end_user_ids: members.map(Number),
        },
      }),
    );
    if (result !== undefined) onCreated(result.data);
  };
  return (
    <FormDialog
      title={`Create end-user group in ${environment.toUpperCase()}`}
      submitLabel="Create"
      onSubmit={submit}
      onCancel={onClose}
      pending={pending}
      ready={members.length > 0 && name.trim() !== ''}
      error={error}
      wide
    >
      <TextField label="Group name" required maxLength={200} value={name} onChange={setName} />
      <TextField
        label="Description"
        multiline
        maxLength={300}
        value={description}
        onChange={setDescription}
      />
      <UserPicker
        environment={environment}
        exclude={[]}
        selected={members}
        onChange={setMembers}
        label="Users"
      />
      <p className="hint">Each end-user group must include at least one end user.</p>
    </FormDialog>
  );
}

export function GroupsPage() {
  const { environment } = useSession();
  const canWrite = useCanWrite(environment);
  // A new sort keeps the page (as it always has); a new search starts at page 1.
  const controls = useListControls({ key: 'name', direction: 'asc' }, { sortKeepsPage: true });
  const name = controls.query;
  const [creating, setCreating] = useState(false);
  const { navigate } = useRouter();
  const list = useApi('listEndUserGroups', {
    query: {
      environment_type: environment,
      name,
      sort: controls.sort?.key,
      direction: controls.sort?.direction,
      ...controls.pageQuery,
    },
  });
  return (
    <Page
      title="Groups"
      description={`End-user groups of the ${environment.toUpperCase()} environment. Use groups to grant features and scope policies for teams rather than individuals.`}
      actions={
        <OpenButton show={canWrite} onOpen={setCreating}>
          + Create Group
        </OpenButton>
      }
    >
      <ListView
        list={controls.of(list)}
        searchLabel="Search groups"
        caption="Groups"
        rowKey={(g) => g.id}
        empty={
          name === '' ? 'No groups in this environment yet.' : `No group name contains “${name}”.`
        }
        columns={[
          {
            key: 'name',
            header: 'Name',
            sort: true,
            render: (g) => <Link to={`/groups/${g.id}`}>{g.name}</Link>,
          },
          {
            key: 'roles',
            header: 'Roles',
            render: (g) =>
              g.roles.length === 0 ? (
                <span className="muted">—</span>
              ) : (
                g.roles.map((r) => (
                  <Badge key={r} tone="blue">
                    {r}
                  </Badge>
                ))
              ),
          },
          {
            key: 'users',
            header: 'Users',
            sort: true,
            render: (g) => g.users_count,
            className: 'num',
          },
          { key: 'managed', header: 'Managed by', render: (g) => <ManagedBy group={g} /> },
        ]}
      />
      {creating && (
        <CreateGroupDialog
          onClose={() => {
            setCreating(false);
          }}
          onCreated={(g) => {
            navigate(`/groups/${g.id}`);
          }}
        />
      )}
    </Page>
  );
}
