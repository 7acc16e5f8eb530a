/** One project: its grants (adding and revoking) and who has access to it. */
import { useState } from 'react';
import { call, type ProjectGrantRow } from '../../api/client';
import {
  Alert,
  Badge,
  Field,
  OpenButton,
  Page,
  Person,
  RelativeTime,
  buttonColumn,
} from '../../components/ui';
import { ListView, useListControls } from '../../components/list-view';
import { SearchSelectField } from '../../components/search-select';
import { FormDialog } from '../../components/dialogs';
import { useAction, useApi } from '../../hooks/use-api';
import { Link } from '../../router';
import { useCanWrite } from '../../session';

function AddGrantDialog({
  projectId,
  onClose,
  onDone,
}: {
  projectId: number;
  onClose: () => void;
  onDone: () => void;
}) {
  const [type, setType] = useState<'UserGroup' | 'User'>('UserGroup');
  const [assignee, setAssignee] = useState('');
  const [roleId, setRoleId] = useState('');
  // Project roles are a short catalogue: one page holds them all.
  const roles = useApi('listProjectRoles', { query: { 'page[size]': 100 } });
  const { pending, error, run } = useAction();
  const submit = async () => {
    const result = await run(() =>
      call('upsertProjectGrants', {
        params: { id: projectId },
        body: {
          project_grants: [
            {
              assignment_type: type,
              assignment_id: type === 'User' ? Number(assignee) : assignee,
              project_role_id: roleId,
            },
          ],
        },
      }),
    );
    if (result !== undefined) onDone();
  };
  return (
    <FormDialog
      title="Grant access to this project"
      submitLabel="Grant"
      onSubmit={submit}
      onCancel={onClose}
      pending={pending}
      error={error}
    >
      <fieldset>
        <legend>Grant to</legend>
        <label className="check-row">
          <input
            type="radio"
            name="assignee-type"
            checked={type === 'UserGroup'}
            onChange={() => {
              setType('UserGroup');
              setAssignee('');
            }}
          />
          A collaborator group
        </label>
        <label className="check-row">
          <input
            type="radio"
            name="assignee-type"
            checked={type === 'User'}
            onChange={() => {
              setType('User');
              setAssignee('');
            }}
          />
          A collaborator
        </label>
      </fieldset>
      {/* Groups and collaborators may be thousands: found by search, not listed. A new type is a
          new picker (`key`), so its search starts empty. */}
      {type === 'UserGroup' ? (
        <SearchSelectField
          key="group"
          label="Group"
          searchLabel="Search groups by name"
          noun="groups"
          operation="listUserGroups"
          query={(name) => ({ name })}
          option={(g) => ({ value: g.id, label: g.name })}
          required
          value={assignee}
          onChange={setAssignee}
        />
      ) : (
        <SearchSelectField
          key="collaborator"
          label="Collaborator"
          searchLabel="Search collaborators by email"
          noun="collaborators"
          operation="listMembers"
          query={(email) => ({ email })}
          option={(m) => ({ value: String(m.id), label: `${m.name} (${m.email})` })}
          required
          value={assignee}
          onChange={setAssignee}
        />
      )}
      <Field
        label="Project role"
        hint={
          roles.data?.data.length === 0
            ? 'No project roles yet: create one on the Roles page.'
            : undefined
        }
      >
        {(id) => (
          <select
            id={id}
            required
            value={roleId}
            onChange={(e) => {
              setRoleId(e.target.value);
            }}
          >
            <option value="">Choose…</option>
            {(roles.data?.data ?? []).map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        )}
      </Field>
    </FormDialog>
  );
}

export function ProjectDetailPage({ id }: { id: number }) {
  const projects = useApi('getProject', { params: { id } });
  const project = projects.data?.data;
  // Both lists are paged by the server: a project may have thousands of grants.
  const grantPages = useListControls();
  const accessPages = useListControls();
  const grants = useApi('listProjectGrants', { params: { id }, query: grantPages.pageQuery });
  const access = useApi('projectAccess', { params: { id }, query: accessPages.pageQuery });
  const canWrite = useCanWrite(project?.environment.type ?? '-');
  const [adding, setAdding] = useState(false);
  const { pending, error, run } = useAction();
  const revoke = async (grant: ProjectGrantRow) => {
    const result = await run(() => call('deleteProjectGrant', { params: { id: grant.id } }));
    if (result !== undefined) {
      grants.reload();
      access.reload();
    }
  };
  const back = (
    <Link to="/projects" className="back-link">
      ← Back to projects
    </Link>
  );
  return (
    <Page
      title={project?.name ?? 'Project'}
      back={back}
      description={
        project === undefined
          ? undefined
          : `${project.environment.type.toUpperCase()} · created ${new Date(project.created_at).toLocaleDateString()}`
      }
      actions={
        <OpenButton show={canWrite} onOpen={setAdding}>
          Add grant
        </OpenButton>
      }
    >
      {error !== undefined && <Alert>{error}</Alert>}
      {projects.error !== undefined && <Alert>{projects.error}</Alert>}
      <section className="card" aria-labelledby="grants-heading">
        <h2 id="grants-heading">Grants</h2>
        <ListView
          list={grantPages.of(grants)}
          caption="Project grants"
          pagesLabel="Grants"
          rowKey={(g) => g.id}
          empty="No grants: only environment roles reach this project."
          columns={[
            {
              key: 'who',
              header: 'Granted to',
              render: (g) =>
                g.user !== null ? (
                  <Person name={g.user.name} email={g.user.email} />
                ) : (
                  <span>
                    {g.user_group?.name} <Badge tone="blue">Group</Badge>
                  </span>
                ),
            },
            { key: 'role', header: 'Project role', render: (g) => g.project_role.name },
            {
              key: 'expires',
              header: 'Expires',
              render: (g) =>
                g.expires_at === null ? (
                  'Never'
                ) : g.expired ? (
                  <Badge tone="red">Expired</Badge>
                ) : (
                  <RelativeTime iso={g.expires_at} />
                ),
            },
            buttonColumn({
              key: 'revoke',
              label: 'Revoke',
              show: canWrite,
              disabled: pending,
              onClick: revoke,
            }),
          ]}
        />
      </section>
      <section className="card" aria-labelledby="who-heading">
        <h2 id="who-heading">Who has access, and through what</h2>
        <ListView
          list={accessPages.of(access)}
          caption="Project access"
          pagesLabel="Collaborators"
          rowKey={(a) => a.member.id}
          empty="Nobody reaches this project through a grant."
          columns={[
            {
              key: 'who',
              header: 'Collaborator',
              render: (a) => <Person name={a.member.name} email={a.member.email} />,
            },
            {
              key: 'paths',
              header: 'Through',
              render: (a) => (
                <ul className="plain">
                  {a.paths.map((p) => (
                    <li key={p.project_grant.id + (p.user_group?.id ?? '')}>
                      {p.via === 'direct_grant'
                        ? 'Direct grant'
                        : `Group ${p.user_group?.name ?? ''}`}{' '}
                      → {p.project_role.name}
                      {p.expired && <Badge tone="red">expired</Badge>}
                    </li>
                  ))}
                </ul>
              ),
            },
            {
              key: 'privileges',
              header: 'Can',
              render: (a) => (
                <span className="small">
                  {Object.entries(a.privileges)
                    .map(([k, v]) => `${k}: ${v.join(', ')}`)
                    .join(' · ')}
                </span>
              ),
            },
          ]}
        />
      </section>
      {adding && project !== undefined && (
        <AddGrantDialog
          projectId={project.id}
          onClose={() => {
            setAdding(false);
          }}
          onDone={() => {
            setAdding(false);
            grants.reload();
            access.reload();
          }}
        />
      )}
    </Page>
  );
}
