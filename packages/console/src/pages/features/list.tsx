/** Features of the chosen environment: the list and registering a feature. */
import { useState } from 'react';
import { call, type Feature, type FeatureListItem } from '../../api/client';
import { OpenButton, Page, RelativeTime } from '../../components/ui';
import { SelectField, TextField } from '../../components/fields';
import { FormDialog } from '../../components/dialogs';
import { ListView, useListControls } from '../../components/list-view';
import { useAction, useApi } from '../../hooks/use-api';
import { Link, useRouter } from '../../router';
import { useCanWrite, useSession } from '../../session';
import { kindLabel } from '../../components/labels';

const KINDS = ['assistant', 'chat_app', 'mcp_server', 'apps_portal'] as const;

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
  const submit = async () => {
    const result = await run(() =>
      call('createFeature', { body: { environment_type: environment, kind, name } }),
    );
    if (result !== undefined) onCreated(result.data);
  };
  return (
    <FormDialog
      title={`Register a feature in ${environment.toUpperCase()}`}
      submitLabel="Register"
      onSubmit={submit}
      onCancel={onClose}
      pending={pending}
      error={error}
    >
      <TextField label="Name" required value={name} onChange={setName} />
      <SelectField
        label="Kind"
        value={kind}
        onChange={setKind}
        options={KINDS.map((k) => ({ value: k, label: kindLabel(k) }))}
      />
    </FormDialog>
  );
}

export function FeaturesPage() {
  const { environment } = useSession();
  const canWrite = useCanWrite(environment);
  // The server searches every feature by name (a new search starts at page 1); the sort orders
  // the page shown, so it keeps the page.
  const controls = useListControls({ key: 'name', direction: 'asc' }, { sortKeepsPage: true });
  const search = controls.query;
  const [creating, setCreating] = useState(false);
  const { navigate } = useRouter();
  const list = useApi('listFeatures', {
    query: {
      environment_type: environment,
      name: search,
      ...controls.pageQuery,
    },
  });
  // Counted by the server: a count from a page of the environment's policies missed the rest.
  const policyCount = (f: FeatureListItem) => f.policy_count;
  return (
    <Page
      title="Features & policies"
      description={`What end users get access to in ${environment.toUpperCase()} — assistants, chat apps, MCP servers, the apps portal — and the policies that decide each call.`}
      actions={
        <OpenButton show={canWrite} onOpen={setCreating}>
          Register feature
        </OpenButton>
      }
    >
      <ListView
        list={controls.of(list)}
        searchLabel="Search features by name"
        caption="Features"
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
