/** Accepting a collaborator invitation with a password. */
import { useState, type SubmitEvent } from 'react';
import { call } from '../../api/client';
import { Alert } from '../../components/ui';
import { TextField } from '../../components/fields';
import { useAction, useApi } from '../../hooks/use-api';
import { Link } from '../../router';
import { AuthCard } from '../../components/auth-card';

export function AcceptInvitationPage({ token }: { token: string }) {
  const preview = useApi('previewInvitation', { params: { token } });
  const [name, setName] = useState<string | undefined>();
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [accepted, setAccepted] = useState(false);
  const { pending, error, setError, run } = useAction();
  const invitation = preview.data?.data;
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    if (password !== confirm) {
      setError('The two passwords do not match');
      return;
    }
    const result = await run(() =>
      call('acceptInvitationWithPassword', {
        params: { token },
        body: { name: name ?? invitation?.name ?? '', password },
      }),
    );
    if (result !== undefined) setAccepted(true);
  };
  if (preview.error !== undefined) {
    return (
      <AuthCard title="Invitation unavailable">
        <Alert>{preview.error}</Alert>
        <p className="muted">Ask the person who invited you to send a new invitation.</p>
      </AuthCard>
    );
  }
  if (invitation === undefined) return <AuthCard title="Invitation">Loading…</AuthCard>;
  if (accepted) {
    return (
      <AuthCard
        title="Welcome to Roster"
        intro={`You joined ${invitation.workspace.name}. Sign in with ${invitation.email} and your new password.`}
      >
        <Link className="button button-primary" to="/sign-in">
          Sign in
        </Link>
      </AuthCard>
    );
  }
  return (
    <AuthCard
      title={`Join ${invitation.workspace.name}`}
      intro={`You were invited as ${invitation.email}. Choose the name others will see and a console password.`}
    >
      <form onSubmit={(e) => void submit(e)} className="form">
        {error !== undefined && <Alert>{error}</Alert>}
        <TextField
          label="Name"
          required
          autoComplete="name"
          value={name ?? invitation.name}
          onChange={setName}
        />
        <TextField
          label="Password"
          hint="At least 10 characters."
          type="password"
          required
          minLength={10}
          autoComplete="new-password"
          value={password}
          onChange={setPassword}
        />
        <TextField
          label="Confirm password"
          type="password"
          required
          minLength={10}
          autoComplete="new-password"
          value={confirm}
          onChange={setConfirm}
        />
        <button type="submit" className="button button-primary" disabled={pending}>
          {pending ? 'Joining…' : 'Accept invitation'}
        </button>
      </form>
      <p className="muted small">
        The invitation expires {new Date(invitation.expires_at).toLocaleDateString()}.
      </p>
    </AuthCard>
  );
}
