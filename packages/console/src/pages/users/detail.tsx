/** One end user: profile, environments, groups, feature access and activity. */
import { useState } from 'react';
import { call } from '../../api/client';
import { Alert, Avatar, Badge, DataTable, Page, RelativeTime } from '../../components/ui';
import { ConfirmDialog } from '../../components/dialogs';
import { EnvironmentChecks } from '../../components/fields';
import { useAction, useApi } from '../../hooks/use-api';
import { Link } from '../../router';
import { useCanWrite, useSession } from '../../session';
import { STATUS_TONE, statusLabel, kindLabel } from '../../components/labels';
import { LockDialog } from '../../components/lock-dialog';

export function UserDetailPage({ id }: { id: number }) {
  const { session } = useSession();
  const detail = useApi('getEndUser', { params: { id } });
  const [revoking, setRevoking] = useState<string | null>(null);
  const [understood, setUnderstood] = useState(false);
  const [locking, setLocking] = useState(false);
  const canWrite = useCanWrite();
  const { pending, error, run } = useAction();
  const user = detail.data?.data;
  const back = (
    <Link to="/users" className="back-link">
      ← Back to users
    </Link>
  );
  if (detail.error !== undefined) {
    return (
      <Page title="User" back={back}>
        <Alert>{detail.error}</Alert>
      </Page>
    );
  }
  if (user === undefined) {
    return (
      <Page title="User" back={back}>
        <p>Loading…</p>
      </Page>
    );
  }
  const toggle = async (env: string, access: boolean) => {
    if (!access) {
      setUnderstood(false);
      setRevoking(env);
      return;
    }
    const result = await run(() =>
      call('setEndUserEnvironment', {
        params: { id },
        body: { environment_type: env, access: true },
      }),
    );
    if (result !== undefined) detail.reload();
  };
  const revoke = async () => {
    if (revoking === null) return;
    const result = await run(() =>
      call('setEndUserEnvironment', {
        params: { id },
        body: { environment_type: revoking, access: false, confirm: true },
      }),
    );
    if (result !== undefined) {
      setRevoking(null);
      detail.reload();
    }
  };
  const revokedGroups = user.groups.filter((g) => g.environment_type === revoking && !g.system);
  return (
    <Page
      title={user.name}
      back={back}
      actions={
        canWrite && (user.status === 'active' || user.status === 'locked') ? (
          <button
            type="button"
            className={`button ${user.status === 'locked' ? '' : 'button-danger'}`}
            onClick={() => {
              setLocking(true);
            }}
          >
            {user.status === 'locked' ? 'Unlock user' : 'Lock user'}
          </button>
        ) : undefined
      }
    >
      {error !== undefined && revoking === null && <Alert>{error}</Alert>}
      {user.status === 'locked' && (
        <Alert tone="warning">
          This user is locked: every access decision for them is deny until they are unlocked.
        </Alert>
      )}
      <div className="grid-2">
        <section className="card" aria-labelledby="profile-heading">
          <h2 id="profile-heading">Profile</h2>
          <div className="profile">
            <Avatar name={user.name} url={user.avatar_url} size={56} />
            <dl className="facts">
              <dt>Email</dt>
              <dd>{user.email}</dd>
              <dt>Status</dt>
              <dd>
                <Badge tone={STATUS_TONE[user.status]}>{statusLabel(user.status)}</Badge>
              </dd>
              <dt>MFA</dt>
              <dd>{user.mfa_enabled ? 'On' : '—'}</dd>
              <dt>Source</dt>
              <dd>{user.source}</dd>
              <dt>External ID</dt>
              <dd>{user.external_id ?? '—'}</dd>
              <dt>Created</dt>
              <dd>
                <RelativeTime iso={user.created_at} />
              </dd>
            </dl>
          </div>
        </section>
        <section className="card" aria-labelledby="env-heading">
          <h2 id="env-heading">Environments</h2>
          <p className="muted">Deselect an environment to revoke this user’s access to it.</p>
          <EnvironmentChecks
            legend="Environment access"
            hideLegend
            options={session.environment_types}
            value={user.environment_types}
            disabled={!canWrite || pending}
            onChange={(next) => {
              // One box changed: the environment whose presence differs.
              const env = session.environment_types.find(
                (e) => next.includes(e) !== user.environment_types.includes(e),
              );
              if (env !== undefined) void toggle(env, next.includes(env));
            }}
          />
        </section>
      </div>
      <section className="card" aria-labelledby="groups-heading">
        <h2 id="groups-heading">Groups</h2>
        <DataTable
          caption="Groups of this user"
          rows={user.groups}
          rowKey={(g) => g.id}
          empty="Not in any group."
          columns={[
            {
              key: 'name',
              header: 'Group',
              render: (g) => (g.system ? g.name : <Link to={`/groups/${g.id}`}>{g.name}</Link>),
            },
            { key: 'env', header: 'Environment', render: (g) => g.environment_type.toUpperCase() },
            { key: 'joined', header: 'Joined', render: (g) => <RelativeTime iso={g.joined_at} /> },
          ]}
        />
      </section>
      <section className="card" aria-labelledby="features-heading">
        <h2 id="features-heading">Feature access</h2>
        <DataTable
          caption="Feature access"
          rows={user.feature_access}
          rowKey={(f) => `${f.feature.id}-${f.via}-${f.group?.id ?? 0}`}
          empty="No feature access."
          columns={[
            {
              key: 'feature',
              header: 'Feature',
              render: (f) => <Link to={`/features/${f.feature.id}`}>{f.feature.name}</Link>,
            },
            { key: 'kind', header: 'Kind', render: (f) => kindLabel(f.feature.kind) },
            {
              key: 'env',
              header: 'Environment',
              render: (f) => f.feature.environment_type.toUpperCase(),
            },
            {
              key: 'via',
              header: 'Through',
              render: (f) => (f.via === 'direct' ? 'Direct grant' : `Group ${f.group?.name ?? ''}`),
            },
          ]}
        />
      </section>
      <section className="card" aria-labelledby="activity-heading">
        <h2 id="activity-heading">Recent activity</h2>
        {user.recent_activity.length === 0 ? (
          <p className="muted">No activity yet.</p>
        ) : (
          <ol className="timeline">
            {user.recent_activity.map((a) => (
              <li key={a.id}>
                <span className="mono">{a.action}</span> by {a.actor.name ?? a.actor.type} ·{' '}
                <RelativeTime iso={a.created_at} />
              </li>
            ))}
          </ol>
        )}
      </section>
      {revoking !== null && (
        <ConfirmDialog
          title={`Revoke access to ${revoking.toUpperCase()}?`}
          confirmLabel="Save"
          onConfirm={revoke}
          onCancel={() => {
            setRevoking(null);
          }}
          pending={pending}
          ready={understood}
          error={error}
        >
          <p>
            {user.name} will lose access to the {revoking.toUpperCase()} environment and everything
            in it.
            {revokedGroups.length > 0
              ? ` They will also be removed from ${revokedGroups.map((g) => g.name).join(', ')}.`
              : ''}
          </p>
          <label className="check-row">
            <input
              type="checkbox"
              checked={understood}
              onChange={(e) => {
                setUnderstood(e.target.checked);
              }}
            />
            I understand that {user.name} loses access to {revoking.toUpperCase()}
          </label>
        </ConfirmDialog>
      )}
      {locking && (
        <LockDialog
          user={user}
          onClose={() => {
            setLocking(false);
          }}
          onDone={() => {
            setLocking(false);
            detail.reload();
          }}
        />
      )}
    </Page>
  );
}
