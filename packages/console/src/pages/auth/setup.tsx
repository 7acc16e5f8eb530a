/** The first run: creating the workspace and its first administrator. */
import { useState, type SubmitEvent } from 'react';
import { call } from '../../api/client';
import { Alert, Field } from '../../components/ui';
import { useAction } from '../../hooks/use-api';
import { Link } from '../../router';
import { AuthCard } from '../../components/auth-card';

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
