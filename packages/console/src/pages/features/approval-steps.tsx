/**
 * The approver chain of a Require approval policy, as the new-policy dialog edits it: ordered
 * steps, each a set of collaborators and of the environment's end-user groups with the Admin role
 * (the only groups whose members may decide). No step: any admin of the environment decides.
 */
import { useId, useState } from 'react';
import { PickerSearch, SEARCH_SIZE } from '../../components/search-select';
import { useDebounced } from '../../components/ui';
import { useApi } from '../../hooks/use-api';
import { useSession } from '../../session';

interface ChosenCollaborator {
  id: number;
  name: string;
  email: string;
}
interface ChosenGroup {
  id: number;
  name: string;
}

/**
 * One step as the dialog edits it. The chosen approvers keep their names: a search that no longer
 * lists one still shows it, checked, so that it can be unchecked.
 */
export interface StepDraft {
  /** Tells the steps apart when one before is removed (each keeps its own search). */
  key: number;
  collaborators: ChosenCollaborator[];
  groups: ChosenGroup[];
}

let stepKeys = 0;
const newStep = (): StepDraft => ({ key: ++stepKeys, collaborators: [], groups: [] });

/** The server takes up to 10 steps (APPROVAL_STEPS_MAX in @roster/contracts). */
const STEPS_MAX = 10;

/** The body's `approval_steps` from the drafts. */
export const toApprovalSteps = (steps: StepDraft[]) =>
  steps.map((step) => ({
    collaborator_ids: step.collaborators.map((c) => c.id),
    end_user_group_ids: step.groups.map((g) => g.id),
  }));

/** The list with `item` added, or without it when it is there (by ID). */
function toggle<T extends { id: number }>(list: T[], item: T): T[] {
  return list.some((x) => x.id === item.id)
    ? list.filter((x) => x.id !== item.id)
    : [...list, item];
}

/**
 * One step: its approvers, found by search (collaborators by email, admin groups by name; either
 * list may be thousands long), as checkboxes.
 */
function ApproverStep({
  number,
  step,
  environmentType,
  onChange,
  onRemove,
}: {
  number: number;
  step: StepDraft;
  environmentType: string;
  onChange: (step: StepDraft) => void;
  onRemove: () => void;
}) {
  const { session } = useSession();
  const searchId = useId();
  const [search, setSearch] = useState('');
  const text = useDebounced(search.trim());
  // End users signed in to the console may not list collaborators (403): they see groups only.
  const members = useApi(
    'listMembers',
    session.principal === 'end_user' ? null : { query: { email: text, 'page[size]': SEARCH_SIZE } },
  );
  const groups = useApi('listEndUserGroups', {
    query: {
      environment_type: environmentType,
      name: text,
      role: 'Admin',
      sort: 'name',
      direction: 'asc',
      'page[size]': SEARCH_SIZE,
    },
  });
  const found = (members.data?.data ?? []).map(({ id, name, email }) => ({ id, name, email }));
  // The server lists only the Admin groups; a system group (Everyone) never decides.
  const adminGroups = (groups.data?.data ?? [])
    .filter((g) => !g.system)
    .map(({ id, name }) => ({ id, name }));
  const collaborators = [
    ...step.collaborators.filter((c) => !found.some((m) => m.id === c.id)),
    ...found,
  ];
  const adminGroupRows = [
    ...step.groups.filter((g) => !adminGroups.some((a) => a.id === g.id)),
    ...adminGroups,
  ];
  const more: string[] = [];
  if (members.data !== undefined && members.data.total > members.data.data.length)
    more.push(`${members.data.data.length} of ${members.data.total} collaborators`);
  if (groups.data !== undefined && groups.data.total > groups.data.data.length)
    more.push(`${groups.data.data.length} of ${groups.data.total} admin groups`);
  const error = members.error ?? groups.error;
  const empty = collaborators.length === 0 && adminGroupRows.length === 0;
  // Typing has not paused yet, or an answer is on its way: what is listed is the text before's.
  const loading = members.loading || groups.loading || text !== search.trim();
  const status =
    error !== undefined
      ? `Could not load approvers: ${error}`
      : loading
        ? 'Loading…'
        : more.length > 0
          ? `Showing ${more.join(' and ')} — type to narrow.`
          : // Only the approvers already chosen are listed: the search itself found nobody.
            !empty && found.length === 0 && adminGroups.length === 0 && text !== ''
            ? `No other collaborator or admin group matches “${text}”.`
            : '';
  return (
    <fieldset className="picklist">
      <legend>Step {number}</legend>
      <div className="search">
        <label htmlFor={searchId} className="visually-hidden">
          Search approvers of step {number}
        </label>
        <PickerSearch
          id={searchId}
          placeholder="Search collaborators by email, admin groups by name"
          value={search}
          onChange={setSearch}
        />
      </div>
      <ul>
        {empty && (
          <li className="muted state">
            {loading
              ? 'Loading…'
              : text === ''
                ? 'No collaborators or admin groups to choose from.'
                : `No collaborator or admin group matches “${text}”.`}
          </li>
        )}
        {collaborators.map((member) => (
          <li key={`m${String(member.id)}`}>
            <label className="check-row">
              <input
                type="checkbox"
                checked={step.collaborators.some((c) => c.id === member.id)}
                onChange={() => {
                  onChange({ ...step, collaborators: toggle(step.collaborators, member) });
                }}
              />
              {member.name} <span className="muted">{member.email}</span>
            </label>
          </li>
        ))}
        {adminGroupRows.map((group) => (
          <li key={`g${String(group.id)}`}>
            <label className="check-row">
              <input
                type="checkbox"
                checked={step.groups.some((g) => g.id === group.id)}
                onChange={() => {
                  onChange({ ...step, groups: toggle(step.groups, group) });
                }}
              />
              {group.name} <span className="muted">Admin group</span>
            </label>
          </li>
        ))}
      </ul>
      <p className="muted" aria-live="polite">
        {status}
      </p>
      <button type="button" className="button button-small" onClick={onRemove}>
        Remove step {number}
      </button>
    </fieldset>
  );
}

export function ApprovalStepsEditor({
  environmentType,
  steps,
  onChange,
}: {
  environmentType: string;
  steps: StepDraft[];
  onChange: (steps: StepDraft[]) => void;
}) {
  return (
    <fieldset>
      <legend>Approver chain</legend>
      <p className="muted">
        {steps.length === 0
          ? 'No steps: any admin of the environment approves. Add steps to name who approves, in order.'
          : 'Every step must approve, in order; any step may reject.'}
      </p>
      {steps.map((step, index) => (
        <ApproverStep
          key={step.key}
          number={index + 1}
          step={step}
          environmentType={environmentType}
          onChange={(next) => {
            onChange(steps.map((s, i) => (i === index ? next : s)));
          }}
          onRemove={() => {
            onChange(steps.filter((_, i) => i !== index));
          }}
        />
      ))}
      {steps.length < STEPS_MAX && (
        <button
          type="button"
          className="button button-small"
          onClick={() => {
            onChange([...steps, newStep()]);
          }}
        >
          Add approval step
        </button>
      )}
    </fieldset>
  );
}
