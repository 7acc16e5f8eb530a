/**
 * The approver chain of a Require approval policy, as the new-policy dialog edits it: ordered
 * steps, each a set of collaborators and of the environment's end-user groups with the Admin role
 * (the only groups whose members may decide). No step: any admin of the environment decides.
 */
import { useApi } from '../../hooks/use-api';

export interface StepDraft {
  collaboratorIds: number[];
  groupIds: number[];
}

/** The server takes up to 10 steps (APPROVAL_STEPS_MAX in @roster/contracts). */
const STEPS_MAX = 10;

/** The body's `approval_steps` from the drafts. */
export const toApprovalSteps = (steps: StepDraft[]) =>
  steps.map((step) => ({
    collaborator_ids: step.collaboratorIds,
    end_user_group_ids: step.groupIds,
  }));

const toggle = (ids: number[], id: number) =>
  ids.includes(id) ? ids.filter((x) => x !== id) : [...ids, id];

export function ApprovalStepsEditor({
  environmentType,
  steps,
  onChange,
}: {
  environmentType: string;
  steps: StepDraft[];
  onChange: (steps: StepDraft[]) => void;
}) {
  // End users signed in to the console may not list collaborators (403): they see groups only.
  const members = useApi('listMembers', { query: { 'page[size]': 100 } });
  const groups = useApi('listEndUserGroups', {
    query: { environment_type: environmentType, 'page[size]': 100 },
  });
  const adminGroups = (groups.data?.data ?? []).filter(
    (g) => !g.system && g.roles.includes('Admin'),
  );
  const collaborators = members.data?.data ?? [];
  const update = (index: number, step: StepDraft) => {
    onChange(steps.map((s, i) => (i === index ? step : s)));
  };
  return (
    <fieldset>
      <legend>Approver chain</legend>
      <p className="muted">
        {steps.length === 0
          ? 'No steps: any admin of the environment approves. Add steps to name who approves, in order.'
          : 'Every step must approve, in order; any step may reject.'}
      </p>
      {steps.map((step, index) => (
        <fieldset key={index} className="picklist">
          <legend>Step {index + 1}</legend>
          <ul>
            {collaborators.map((member) => (
              <li key={`m${String(member.id)}`}>
                <label className="check-row">
                  <input
                    type="checkbox"
                    checked={step.collaboratorIds.includes(member.id)}
                    onChange={() => {
                      update(index, {
                        ...step,
                        collaboratorIds: toggle(step.collaboratorIds, member.id),
                      });
                    }}
                  />
                  {member.name} <span className="muted">{member.email}</span>
                </label>
              </li>
            ))}
            {adminGroups.map((group) => (
              <li key={`g${String(group.id)}`}>
                <label className="check-row">
                  <input
                    type="checkbox"
                    checked={step.groupIds.includes(group.id)}
                    onChange={() => {
                      update(index, { ...step, groupIds: toggle(step.groupIds, group.id) });
                    }}
                  />
                  {group.name} <span className="muted">Admin group</span>
                </label>
              </li>
            ))}
          </ul>
          <button
            type="button"
            className="button button-small"
            onClick={() => {
              onChange(steps.filter((_, i) => i !== index));
            }}
          >
            Remove step {index + 1}
          </button>
        </fieldset>
      ))}
      {steps.length < STEPS_MAX && (
        <button
          type="button"
          className="button button-small"
          onClick={() => {
            onChange([...steps, { collaboratorIds: [], groupIds: [] }]);
          }}
        >
          Add approval step
        </button>
      )}
    </fieldset>
  );
}
