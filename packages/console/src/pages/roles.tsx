/** Environment, project and legacy roles, with a privileges editor built from the shared catalogue. */
import { useState } from 'react';
import {
  ENVIRONMENT_RESOURCES,
  LEGACY_SYSTEM_ROLES,
  PROJECT_RESOURCES,
} from '../../../contracts/src/privileges';
import { call, type Query } from '../api/client';
import { Alert, Badge, OpenButton, Page, RelativeTime, TabPanel, Tabs } from '../components/ui';
import { TextField } from '../components/fields';
import { FormDialog } from '../components/dialogs';
import { ListView, useListControls } from '../components/list-view';
import { useAction, useApi } from '../hooks/use-api';
import { useCanWrite } from '../session';

type Kind = 'Environment roles' | 'Project roles' | 'Legacy roles';
/** Privileges chosen per resource: resource key → privilege names. */
type Selection = Record<string, string[]>;

function catalogue(kind: Kind): Record<string, { label: string; privileges: readonly string[] }> {
  if (kind === 'Environment roles') return ENVIRONMENT_RESOURCES;
  if (kind === 'Project roles') return PROJECT_RESOURCES;
  const admin = LEGACY_SYSTEM_ROLES.Admin ?? {};
  return Object.fromEntries(
    Object.entries(admin).map(([label, privileges]) => [label, { label, privileges }]),
  );
}

export function PrivilegesEditor({
  kind,
  value,
  onChange,
  disabled,
}: {
  kind: Kind;
  value: Selection;
  onChange: (v: Selection) => void;
  disabled: boolean;
}) {
  const resources = catalogue(kind);
  return (
    <fieldset className="privileges">
      <legend>Privileges</legend>
      <table>
        <caption className="visually-hidden">Privileges by resource</caption>
        <thead>
          <tr>
            <th scope="col">Resource</th>
            <th scope="col">Privileges</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(resources).map(([key, resource]) => {
            const chosen = value[key] ?? [];
            const all = resource.privileges.every((p) => chosen.includes(p));
            return (
              <tr key={key}>
                <th scope="row">
                  <label className="check-row">
                    <input
                      type="checkbox"
                      disabled={disabled}
                      checked={all}
                      onChange={() => {
                        onChange({ ...value, [key]: all ? [] : [...resource.privileges] });
                      }}
                    />
                    {resource.label}
                  </label>
                </th>
                <td className="privilege-list">
                  <div>
                    {resource.privileges.map((privilege) => (
                      <label key={privilege} className="check-row">
                        <input
                          type="checkbox"
                          disabled={disabled}
                          checked={chosen.includes(privilege)}
                          onChange={() => {
                            onChange({
                              ...value,
                              [key]: chosen.includes(privilege)
                                ? chosen.filter((p) => p !== privilege)
                                : [...chosen, privilege],
                            });
                          }}
                        />
                        {privilege.replace(/_/g, ' ')}
                      </label>
                    ))}
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </fieldset>
  );
}

function selected(selection: Selection) {
  return Object.entries(selection).filter(([, privileges]) => privileges.length > 0);
}

/** A legacy role's privileges: `{"Recipes":["read","run"]}`. */
function toLegacyPrivileges(selection: Selection): Record<string, string[]> {
  return Object.fromEntries(selected(selection));
}

/** An environment or project role's config: a resource with all its privileges is `"all"`. */
function toRoleConfig(kind: Kind, selection: Selection) {
  const resources = catalogue(kind);
  return Object.fromEntries(
    selected(selection).map(([key, privileges]) => [
      key,
      {
        privileges:
          resources[key]?.privileges.every((p) => privileges.includes(p)) === true
            ? ('all' as const)
            : privileges,
      },
    ]),
  );
}

function fromConfig(kind: Kind, config: Record<string, unknown>): Selection {
  const resources = catalogue(kind);
  return Object.fromEntries(
    Object.entries(config).map(([key, entry]) => {
      if (kind === 'Legacy roles') return [key, entry as string[]];
      const privileges = (entry as { privileges: 'all' | string[] }).privileges;
      return [key, privileges === 'all' ? [...(resources[key]?.privileges ?? [])] : privileges];
    }),
  );
}

interface RoleRow {
  id: number | string;
  name: string;
  members_count: number;
  kind: string;
  system: boolean;
  updated_at: string;
}

function RoleDialog({
  kind,
  role,
  onClose,
  onDone,
}: {
  kind: Kind;
  role: RoleRow | null;
  onClose: () => void;
  onDone: () => void;
}) {
  const canWrite = useCanWrite('dev') && role?.system !== true;
  const [name, setName] = useState(role?.name ?? '');
  const [selection, setSelection] = useState<Selection | undefined>(role === null ? {} : undefined);
  const { pending, error, run } = useAction();
  const loaded = useApi(
    kind === 'Environment roles' ? 'getEnvironmentRole' : 'getProjectRole',
    role !== null && kind !== 'Legacy roles' && selection === undefined
      ? { params: { id: role.id } }
      : null,
  );
  const legacy = useApi(
    'listLegacyRoles',
    role !== null && kind === 'Legacy roles' && selection === undefined
      ? { query: { 'page[size]': 100 } }
      : null,
  );
  if (selection === undefined) {
    const config =
      loaded.data?.data.config ?? legacy.data?.data.find((r) => r.id === role?.id)?.privileges;
    if (config !== undefined) setSelection(fromConfig(kind, config));
  }
  const submit = async () => {
    const result = await run(async () => {
      if (kind === 'Legacy roles') {
        const body = { role: { name, privileges: toLegacyPrivileges(selection ?? {}) } };
        return role === null
          ? call('createLegacyRole', { body })
          : call('updateLegacyRole', { params: { id: role.id }, body });
      }
      const config = toRoleConfig(kind, selection ?? {});
      if (kind === 'Environment roles') {
        const body = { environment_role: { name, config } };
        return role === null
          ? call('createEnvironmentRole', { body })
          : call('updateEnvironmentRole', { params: { id: role.id }, body });
      }
      const body = { project_role: { name, config } };
      return role === null
        ? call('createProjectRole', { body })
        : call('updateProjectRole', { params: { id: role.id }, body });
    });
    if (result !== undefined) onDone();
  };
  const title = role === null ? `New ${kind.toLowerCase().replace(/s$/, '')}` : role.name;
  return (
    <FormDialog
      title={title}
      submitLabel={canWrite ? 'Save' : undefined}
      onSubmit={submit}
      onCancel={onClose}
      pending={pending}
      error={error}
      cancelLabel={canWrite ? 'Cancel' : 'Close'}
      wide
    >
      {role?.system === true && <Alert tone="info">System roles cannot be changed.</Alert>}
      <TextField label="Role name" required disabled={!canWrite} value={name} onChange={setName} />
      {selection === undefined ? (
        <p>Loading privileges…</p>
      ) : (
        <PrivilegesEditor
          kind={kind}
          value={selection}
          onChange={setSelection}
          disabled={!canWrite}
        />
      )}
    </FormDialog>
  );
}

export function RolesPage() {
  const [tab, setTab] = useState<Kind>('Environment roles');
  // The search and the sort keep the page (only a new tab starts at page 1), as they always have.
  const controls = useListControls(
    { key: 'name', direction: 'asc' },
    { searchKeepsPage: true, sortKeepsPage: true },
  );
  const name = controls.query;
  const [editing, setEditing] = useState<RoleRow | null | 'new'>(null);
  const canWrite = useCanWrite('dev');
  const query: Query = { name, ...controls.pageQuery };
  const env = useApi('listEnvironmentRoles', tab === 'Environment roles' ? { query } : null);
  const project = useApi('listProjectRoles', tab === 'Project roles' ? { query } : null);
  const legacy = useApi('listLegacyRoles', tab === 'Legacy roles' ? { query } : null);
  const active = tab === 'Environment roles' ? env : tab === 'Project roles' ? project : legacy;
  const rows: RoleRow[] | undefined =
    tab === 'Legacy roles'
      ? legacy.data?.data.map((r) => ({
          id: r.id,
          name: r.name,
          members_count: r.members_count,
          kind: r.system ? 'system' : 'custom',
          system: r.system,
          updated_at: r.updated_at,
        }))
      : (tab === 'Environment roles' ? env.data?.data : project.data?.data)?.map((r) => ({
          id: r.id,
          name: r.name,
          members_count: r.members_count,
          kind: r.type,
          system: r.type === 'system',
          updated_at: r.updated_at,
        }));
  const { pending, error, run } = useAction();
  const remove = async (role: RoleRow) => {
    const op =
      tab === 'Environment roles'
        ? 'deleteEnvironmentRole'
        : tab === 'Project roles'
          ? 'deleteProjectRole'
          : 'deleteLegacyRole';
    const result = await run(() => call(op, { params: { id: role.id } }));
    if (result !== undefined) active.reload();
  };
  return (
    <Page
      title="Roles"
      description="Environment roles decide what collaborators may do in an environment; project roles what a project grant gives; legacy roles are the older privilege groups."
      actions={
        <OpenButton
          show={canWrite}
          onOpen={() => {
            setEditing('new');
          }}
        >
          New role
        </OpenButton>
      }
    >
      <Tabs
        label="Role kinds"
        tabs={['Environment roles', 'Project roles', 'Legacy roles']}
        active={tab}
        onChange={(t) => {
          setTab(t as Kind);
          controls.setPage(1);
        }}
      />
      <TabPanel tab={tab}>
        <ListView
          list={controls.of(active, { rows, total: active.data?.total })}
          searchLabel="Search roles"
          beforeTable={error !== undefined && <Alert>{error}</Alert>}
          caption={tab}
          rowKey={(r) => r.id}
          empty="No roles."
          columns={[
            {
              key: 'name',
              header: 'Name',
              sort: (r) => r.name.toLowerCase(),
              render: (r) => (
                <button
                  type="button"
                  className="link-button"
                  onClick={() => {
                    setEditing(r);
                  }}
                >
                  {r.name}
                </button>
              ),
            },
            {
              key: 'kind',
              header: 'Type',
              sort: (r) => r.kind,
              render: (r) => <Badge tone={r.system ? 'grey' : 'blue'}>{r.kind}</Badge>,
            },
            {
              key: 'members',
              header: 'Assigned',
              sort: (r) => r.members_count,
              render: (r) => r.members_count,
              className: 'num',
            },
            {
              key: 'updated',
              header: 'Updated',
              sort: (r) => r.updated_at,
              render: (r) => <RelativeTime iso={r.updated_at} />,
            },
            {
              key: 'delete',
              header: <span className="visually-hidden">Delete</span>,
              className: 'cell-menu',
              render: (r) =>
                canWrite &&
                !r.system && (
                  <button
                    type="button"
                    className="button button-small"
                    disabled={pending}
                    onClick={() => void remove(r)}
                  >
                    Delete
                  </button>
                ),
            },
          ]}
        />
      </TabPanel>
      {editing !== null && (
        <RoleDialog
          kind={tab}
          role={editing === 'new' ? null : editing}
          onClose={() => {
            setEditing(null);
          }}
          onDone={() => {
            setEditing(null);
            active.reload();
          }}
        />
      )}
    </Page>
  );
}
