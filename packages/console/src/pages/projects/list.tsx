/** Projects: the list and creating a project. */
import { useState } from 'react';
import { call } from '../../api/client';
import { OpenButton, Page, RelativeTime } from '../../components/ui';
import { TextField } from '../../components/fields';
import { FormDialog } from '../../components/dialogs';
import { ListView, useListControls } from '../../components/list-view';
import { useAction, useApi } from '../../hooks/use-api';
import { Link, useRouter } from '../../router';
import { useCanWrite, useSession } from '../../session';

export function ProjectsPage() {
  const { environment } = useSession();
  const canWrite = useCanWrite(environment);
  const controls = useListControls({ key: 'name', direction: 'asc' });
  const name = controls.query;
  const [creating, setCreating] = useState(false);
  const [newName, setNewName] = useState('');
  const { navigate } = useRouter();
  const list = useApi('listProjects', {
    query: {
      environment_type: environment,
      name,
      ...controls.pageQuery,
    },
  });
  const { pending, error, run } = useAction();
  const create = async () => {
    const result = await run(() =>
      call('createProject', { body: { name: newName, environment_type: environment } }),
    );
    if (result !== undefined) navigate(`/projects/${result.data.id}`);
  };
  return (
    <Page
      title="Projects"
      description={`Projects of the ${environment.toUpperCase()} environment. Grant project roles to collaborators and collaborator groups.`}
      actions={
        <OpenButton show={canWrite} onOpen={setCreating}>
          Create project
        </OpenButton>
      }
    >
      <ListView
        list={controls.of(list)}
        searchLabel="Search projects"
        caption="Projects"
        rowKey={(p) => p.id}
        empty={
          name === '' ? 'No projects in this environment.' : `No project name contains “${name}”.`
        }
        columns={[
          {
            key: 'name',
            header: 'Name',
            sort: (p) => p.name.toLowerCase(),
            render: (p) => <Link to={`/projects/${p.id}`}>{p.name}</Link>,
          },
          {
            key: 'description',
            header: 'Description',
            render: (p) => p.description ?? <span className="muted">—</span>,
          },
          { key: 'env', header: 'Environment', render: (p) => p.environment.type.toUpperCase() },
          {
            key: 'created',
            header: 'Created',
            sort: (p) => p.created_at,
            render: (p) => <RelativeTime iso={p.created_at} />,
          },
        ]}
      />
      {creating && (
        <FormDialog
          title={`Create project in ${environment.toUpperCase()}`}
          submitLabel="Create"
          onSubmit={create}
          onCancel={() => {
            setCreating(false);
          }}
          pending={pending}
          error={error}
        >
          <TextField label="Project name" required value={newName} onChange={setNewName} />
        </FormDialog>
      )}
    </Page>
  );
}
