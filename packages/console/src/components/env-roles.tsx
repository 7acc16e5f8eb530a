/** A collaborator's role in each environment: the editor, its badge colours and the request body. */
import { Field, type Tone } from '../components/ui';
import { useApi } from '../hooks/use-api';
import { useSession } from '../session';

/** Per-environment role pickers (legacy roles and environment roles). */
export function EnvRolesEditor({
  value,
  onChange,
}: {
  value: Record<string, string>;
  onChange: (v: Record<string, string>) => void;
}) {
  const { session } = useSession();
  const legacy = useApi('listLegacyRoles', { query: { 'page[size]': 100 } });
  const envRoles = useApi('listEnvironmentRoles', { query: { 'page[size]': 100 } });
  const options = [
    ...(legacy.data?.data ?? []).map((r) => ({
      value: `privilege_group:${r.name}`,
      label: r.name,
    })),
    ...(envRoles.data?.data ?? []).map((r) => ({
      value: `environment:${r.name}`,
      label: `${r.name} (environment role)`,
    })),
  ];
  return (
    <fieldset>
      <legend>Role in each environment</legend>
      {session.environment_types.map((env) => (
        <Field key={env} label={env.toUpperCase()}>
          {(id) => (
            <select
              id={id}
              value={value[env] ?? NO_ACCESS}
              onChange={(e) => {
                onChange({ ...value, [env]: e.target.value });
              }}
            >
              {options.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </select>
          )}
        </Field>
      ))}
    </fieldset>
  );
}

/** The role an environment left alone gets: the API's own default for an invitation. */
export const NO_ACCESS = 'privilege_group:No access';

export const toEnvRoles = (value: Record<string, string>) =>
  Object.entries(value).map(([environment_type, v]) => {
    const [role_type, ...rest] = v.split(':');
    return {
      environment_type,
      name: rest.join(':'),
      role_type: role_type as 'privilege_group' | 'environment',
    };
  });

export function roleTone(name: string): Tone {
  return name === 'Admin' || name === 'EnvironmentAdmin'
    ? 'purple'
    : name === 'No access'
      ? 'grey'
      : 'blue';
}
