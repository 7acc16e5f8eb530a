/** Signing in to the console: password, or single sign-on when configured. */
import { useEffect, useState, type SubmitEvent } from 'react';
import { call, type ConsoleSession } from '../../api/client';
import { Alert } from '../../components/ui';
import { TextField } from '../../components/fields';
import { useAction, useApi } from '../../hooks/use-api';
import { Link, useRouter } from '../../router';
import { AuthCard } from '../../components/auth-card';

export function SignInPage({
  onSignedIn,
  signedIn,
}: {
  onSignedIn: (session: ConsoleSession) => void;
  signedIn: boolean;
}) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const setup = useApi('getSetup');
  // `/sign-in?workspace=<id>` picks the workspace when several have single sign-on.
  const workspace = new URLSearchParams(window.location.search).get('workspace') ?? undefined;
  const sso = useApi('getSso', { query: { workspace } });
  const ssoUrl = sso.data?.data.available === true ? sso.data.data.login_url : null;
  const { pending, error, run } = useAction();
  const { navigate } = useRouter();
  useEffect(() => {
    if (setup.data?.data.setup_required === true) navigate('/setup');
  }, [setup.data, navigate]);
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const result = await run(() => call('signIn', { body: { email, password } }));
    if (result !== undefined) onSignedIn(result.data);
  };
  if (signedIn) {
    return (
      <AuthCard title="You are signed in">
        <Link to="/">Go to the dashboard</Link>
      </AuthCard>
    );
  }
  return (
    <AuthCard
      title="Sign in to Roster"
      intro={
        ssoUrl === null
          ? 'Use your collaborator email and console password.'
          : 'Use your organisation’s single sign-on, or your collaborator email and console password.'
      }
    >
      {ssoUrl !== null && (
        <>
          {/* A full navigation: the server redirects to the identity provider. */}
          <a className="button button-primary button-block" href={ssoUrl}>
            Sign in with SSO
          </a>
          <p className="divider" aria-hidden="true">
            <span>or</span>
          </p>
        </>
      )}
      <form onSubmit={(e) => void submit(e)} className="form">
        {error !== undefined && <Alert>{error}</Alert>}
        <TextField
          label="Email"
          type="email"
          autoComplete="username"
          required
          value={email}
          onChange={setEmail}
        />
        <TextField
          label="Password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={setPassword}
        />
        <button type="submit" className="button button-primary" disabled={pending}>
          {pending ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
      <p className="muted small">
        First time here? An operator can create the first admin on the{' '}
        <Link to="/setup">setup page</Link> with the workspace admin API token.
      </p>
    </AuthCard>
  );
}
