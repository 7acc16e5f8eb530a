/**
 * The access explorer: why an end user may (or may not) use a feature, why a collaborator may
 * act on a project, and who reaches a project through what.
 */
import { useState, type SubmitEvent } from 'react';
import { PROJECT_RESOURCES } from '../../../contracts/src/privileges';
import { call, type AccessDecision, type Decision } from '../api/client';
import { Alert, Badge, Field, Page, Person } from '../components/ui';
import { ListView, useListControls } from '../components/list-view';
import { SelectField, TextField } from '../components/fields';
import { SearchSelectField } from '../components/search-select';
import { useAction, useApi } from '../hooks/use-api';
import { useSession } from '../session';
import { EFFECT_TONE, effectLabel } from '../components/labels';

/** End users and collaborators are both chosen by email, shown with their name. */
const personChoice = (p: { name: string; email: string }) => ({
  value: p.email,
  label: `${p.name} (${p.email})`,
});

/**
 * A project, found by name among the projects the user may see (there may be thousands).
 * `Project` is the select's label in both forms that use it.
 */
function ProjectSearchField({
  value,
  onChange,
  required,
}: {
  value: string;
  onChange: (value: string) => void;
  required?: boolean;
}) {
  return (
    <SearchSelectField
      label="Project"
      searchLabel="Search projects by name"
      searchPlaceholder="Search by name"
      noun="projects"
      operation="listProjects"
      query={(name) => ({ name })}
      option={(p) => ({
        value: String(p.id),
        label: `${p.name} (${p.environment.type.toUpperCase()})`,
      })}
      required={required}
      value={value}
      onChange={onChange}
    />
  );
}

function EndUserDecision() {
  const { environment } = useSession();
  const [email, setEmail] = useState('');
  const [featureId, setFeatureId] = useState('');
  const [tool, setTool] = useState('');
  const [decision, setDecision] = useState<Decision | null>(null);
  const { pending, error, run } = useAction();
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    // A dry run: asking here must not look like an agent's call (no audit event, no dashboard
    // count) nor open or use up an approval request.
    const result = await run(() =>
      call('decide', {
        query: { dry_run: true },
        body: {
          email,
          environment_type: environment,
          feature_id: Number(featureId),
          tool: tool === '' ? null : tool,
        },
      }),
    );
    if (result !== undefined) setDecision(result.data);
  };
  return (
    <section className="card" aria-labelledby="eu-heading">
      <h2 id="eu-heading">End user → feature</h2>
      <p className="muted">
        Asks the decision engine what it would answer an AI agent, as a dry run: nothing is
        recorded, and no approval request is opened or used up.
      </p>
      <form className="form form-inline" onSubmit={(e) => void submit(e)}>
        <SearchSelectField
          label="User"
          searchLabel="Search users by email"
          searchPlaceholder="Search by email"
          noun="users"
          operation="listEndUsers"
          query={(text) => ({
            email: text,
            environment_type: environment,
            sort: 'email',
            direction: 'asc',
          })}
          option={personChoice}
          required
          value={email}
          onChange={setEmail}
        />
        <SearchSelectField
          label="Feature"
          searchLabel="Search features by name"
          searchPlaceholder="Search by name"
          noun="features"
          operation="listFeatures"
          query={(name) => ({ name, environment_type: environment })}
          option={(f) => ({ value: String(f.id), label: f.name })}
          required
          value={featureId}
          onChange={setFeatureId}
        />
        <TextField label="Tool (optional)" value={tool} onChange={setTool} />
        <button type="submit" className="button button-primary" disabled={pending}>
          Check access
        </button>
      </form>
      {error !== undefined && <Alert>{error}</Alert>}
      {decision !== null && (
        <div className="decision" aria-live="polite">
          <p>
            Decision:{' '}
            <Badge tone={EFFECT_TONE[decision.decision]}>{effectLabel(decision.decision)}</Badge>
          </p>
          <ol className="chain">
            {decision.reasons.map((reason, index) => (
              <li key={index}>
                <span className="chain-kind">{reason.type.replace(/_/g, ' ')}</span>{' '}
                {reason.message}
              </li>
            ))}
          </ol>
        </div>
      )}
    </section>
  );
}

function CollaboratorCheck() {
  const [email, setEmail] = useState('');
  const [projectId, setProjectId] = useState('');
  const [resource, setResource] = useState('recipe');
  const [privilege, setPrivilege] = useState('read');
  // The choices are the catalogue the API checks names against (a typo would be a 400).
  const privileges = PROJECT_RESOURCES[resource]?.privileges ?? [];
  const [answer, setAnswer] = useState<AccessDecision | null>(null);
  const { pending, error, run } = useAction();
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const result = await run(() =>
      call('accessCheck', {
        body: {
          subject: { email },
          project_id: Number(projectId),
          resource,
          privilege,
          explain: true,
        },
      }),
    );
    if (result !== undefined) setAnswer(result.data);
  };
  return (
    <section className="card" aria-labelledby="co-heading">
      <h2 id="co-heading">Collaborator → project</h2>
      <form className="form form-inline" onSubmit={(e) => void submit(e)}>
        <SearchSelectField
          label="Collaborator"
          searchLabel="Search collaborators by email"
          searchPlaceholder="Search by email"
          noun="collaborators"
          operation="listMembers"
          query={(text) => ({ email: text })}
          option={personChoice}
          required
          value={email}
          onChange={setEmail}
        />
        <ProjectSearchField required value={projectId} onChange={setProjectId} />
        <Field label="Resource">
          {(id) => (
            <select
              id={id}
              required
              value={resource}
              onChange={(e) => {
                const next = e.target.value;
                setResource(next);
                const choices = PROJECT_RESOURCES[next]?.privileges ?? [];
                if (!choices.includes(privilege)) setPrivilege(choices[0] ?? '');
              }}
            >
              {Object.entries(PROJECT_RESOURCES).map(([key, def]) => (
                <option key={key} value={key}>
                  {def.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <SelectField
          label="Privilege"
          required
          value={privilege}
          onChange={setPrivilege}
          options={privileges.map((p) => ({ value: p, label: p.replace(/_/g, ' ') }))}
        />
        <button type="submit" className="button button-primary" disabled={pending}>
          Explain
        </button>
      </form>
      {error !== undefined && <Alert>{error}</Alert>}
      {answer !== null && (
        <div className="decision" aria-live="polite">
          <p>
            {answer.allowed ? (
              <Badge tone="green">Allowed</Badge>
            ) : (
              <Badge tone="red">Not allowed</Badge>
            )}
          </p>
          {answer.paths.map((path, index) => (
            <div key={index} className="path">
              <p>{path.message}</p>
              <ol className="chain chain-steps">
                {path.steps.map((step, i) => (
                  <li key={i}>
                    <span className="chain-kind">{step.kind.replace(/_/g, ' ')}</span> {step.name}
                    {step.expired === true && <Badge tone="red">expired</Badge>}
                  </li>
                ))}
              </ol>
            </div>
          ))}
        </div>
      )}
    </section>
  );
}

function ProjectWho() {
  const [projectId, setProjectId] = useState('');
  const controls = useListControls();
  const access = useApi(
    'projectAccess',
    projectId === '' ? null : { params: { id: projectId }, query: controls.pageQuery },
  );
  return (
    <section className="card" aria-labelledby="who-heading">
      <h2 id="who-heading">Who can reach a project</h2>
      <ProjectSearchField
        value={projectId}
        onChange={(id) => {
          setProjectId(id);
          controls.setPage(1);
        }}
      />
      {projectId !== '' && (
        <ListView
          list={controls.of(access)}
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
              key: 'through',
              header: 'Through',
              render: (a) =>
                a.paths.map((p) => (
                  <div key={p.project_grant.id + (p.user_group?.id ?? '')}>
                    {p.via === 'direct_grant'
                      ? 'Direct grant'
                      : `Group ${p.user_group?.name ?? ''}`}{' '}
                    → {p.project_role.name}
                  </div>
                )),
            },
          ]}
        />
      )}
    </section>
  );
}

export function AccessExplorerPage() {
  const { session } = useSession();
  // Collaborators and projects are not an end user's to see (the API answers them 403).
  const collaborator = session.principal !== 'end_user';
  return (
    <Page
      title="Access explorer"
      description="Ask who may do what, and read why, as a chain from the person to the privilege."
    >
      <EndUserDecision />
      {collaborator && <CollaboratorCheck />}
      {collaborator && <ProjectWho />}
    </Page>
  );
}
