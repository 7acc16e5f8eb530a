/** The pages outside the signed-in app: sign-in, first-admin setup, invitation acceptance. */
import { useEffect, useState, type SubmitEvent, type ReactNode } from 'react';
import { call, type ConsoleSession } from '../api/client';
import { Alert, Field } from '../components/ui';
import { useAction, useApi } from '../hooks/use-api';
import { Link, useRouter } from '../router';

function AuthCard({
  title,
  children,
  intro,
}: {
  title: string;
  children: ReactNode;
  intro?: ReactNode;
}) {
  useEffect(() => {
    document.title = `${title} · Roster`;
  }, [title]);
  return (
    <main className="auth" id="main">
      <div className="auth-card">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            R
          </span>
          <span>Roster</span>
        </div>
        <h1>{title}</h1>
        {intro !== undefined && <p className="muted">{intro}</p>}
        {children}
      </div>
    </main>
  );
}

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
        <Field label="Email">
          {(id) => (
            <input
              id={id}
              type="email"
              autoComplete="username"
              required
              value={email}
              onChange={(e) => {
                setEmail(e.target.value);
              }}
            />
          )}
        </Field>
        <Field label="Password">
          {(id) => (
            <input
              id={id}
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => {
                setPassword(e.target.value);
              }}
            />
          )}
        </Field>
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

export function SetupPage() {
  const [form, setForm] = useState({ admin_token: '', name: '', email: '', password: '' });
  const [done, setDone] = useState(false);
  const { pending, error, run } = useAction();
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => {
    setForm({ ...form, [key]: e.target.value });
  };
  const submit = async (event: SubmitEvent) => {
    event.preventDefault();
    const result = await run(() => call('setup', { body: form }));
    if (result !== undefined) setDone(true);
  };
  if (done) {
    return (
      <AuthCard
        title="Setup complete"
        intro="The first console admin has Admin in every environment."
      >
        <Link className="button button-primary" to="/sign-in">
          Sign in
        </Link>
      </AuthCard>
    );
  }
  return (
    <AuthCard
      title="Set up the console"
      intro="Create the first console admin. Paste the workspace's admin API token (printed once at the first start, or ROSTER_ADMIN_TOKEN) to prove you operate this server."
    >
      <form onSubmit={(e) => void submit(e)} className="form">
        {error !== undefined && <Alert>{error}</Alert>}
        <Field label="Admin API token">
          {(id) => (
            <input
              id={id}
              type="password"
              autoComplete="off"
              required
              value={form.admin_token}
              onChange={set('admin_token')}
            />
          )}
        </Field>
        <Field label="Your name">
          {(id) => (
            <input id={id} required autoComplete="name" value={form.name} onChange={set('name')} />
          )}
        </Field>
        <Field label="Email">
          {(id) => (
            <input
              id={id}
              type="email"
              required
              autoComplete="username"
              value={form.email}
              onChange={set('email')}
            />
          )}
        </Field>
        <Field label="Password" hint="At least 10 characters.">
          {(id) => (
            <input
              id={id}
              type="password"
              required
              minLength={10}
              autoComplete="new-password"
              value={form.password}
              onChange={set('password')}
            />
          )}
        </Field>
        <button type="submit" className="button button-primary" disabled={pending}>
          {pending ? 'Creating…' : 'Create admin'}
        </button>
      </form>
      <p className="muted small">
        Already set up? <Link to="/sign-in">Sign in</Link>
      </p>
    </AuthCard>
  );
}

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
        <Field label="Name">
          {(id) => (
            <input
              id={id}
              required
              autoComplete="name"
              value={name ?? invitation.name}
              onChange={(e) => {
                setName(e.target.value);
              }}
            />
          )}
        </Field>
        <Field label="Password" hint="At least 10 characters.">
          {(id) => (
            <input
              id={id}
              type="password"
              required
              minLength={10}
              autoComplete="new-password"
              value={password}
              onChange={(e) => {
                setPassword(e.target.value);
              }}
            />
          )}
        </Field>
        <Field label="Confirm password">
          {(id) => (
            <input
              id={id}
              type="password"
              required
              minLength={10}
              autoComplete="new-password"
              value={confirm}
              onChange={(e) => {
                setConfirm(e.target.value);
              }}
            />
          )}
        </Field>
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
