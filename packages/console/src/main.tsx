import { StrictMode, useCallback, useEffect, useState, type ReactNode } from 'react';
import { createRoot } from 'react-dom/client';
import './styles.css';
import { call, setSignedOutHandler, type ConsoleSession } from './api/client';
import { Link, match, RouterProvider, useRouter } from './router';
import { SessionContext, useSession } from './session';
import { SignInPage } from './pages/auth/sign-in';
import { SetupPage } from './pages/auth/setup';
import { AcceptInvitationPage } from './pages/auth/accept-invitation';
import { DashboardPage } from './pages/dashboard';
import { UsersPage } from './pages/users/list';
import { UserDetailPage } from './pages/users/detail';
import { GroupsPage } from './pages/groups/list';
import { GroupDetailPage } from './pages/groups/detail';
import { CollaboratorsPage } from './pages/collaborators/list';
import { CollaboratorGroupsPage } from './pages/collaborators/groups';
import { InvitationsPage } from './pages/collaborators/invitations';
import { RolesPage } from './pages/roles';
import { ProjectsPage } from './pages/projects/list';
import { ProjectDetailPage } from './pages/projects/detail';
import { FeaturesPage } from './pages/features/list';
import { FeatureDetailPage } from './pages/features/detail';
import { ApprovalsPage } from './pages/features/approvals';
import { AgentsPage } from './pages/agents';
import { ApiClientsPage } from './pages/api-clients';
import { AuditLogPage } from './pages/audit-log';
import { AccessExplorerPage } from './pages/access';
import { ScimConnectionsPage } from './pages/scim';

type Theme = 'light' | 'dark';
function initialTheme(): Theme {
  const saved = localStorage.getItem('roster-theme');
  if (saved === 'light' || saved === 'dark') return saved;
  return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

const NAV: { section: string; items: { to: string; label: string }[] }[] = [
  {
    section: 'Overview',
    items: [
      { to: '/', label: 'Dashboard' },
      { to: '/access', label: 'Access explorer' },
    ],
  },
  {
    section: 'End users',
    items: [
      { to: '/users', label: 'Users' },
      { to: '/groups', label: 'Groups' },
      { to: '/features', label: 'Features & policies' },
      { to: '/approvals', label: 'Approvals' },
      { to: '/agents', label: 'Agents' },
    ],
  },
  {
    section: 'Collaborators',
    items: [
      { to: '/collaborators', label: 'Collaborators' },
      { to: '/collaborator-groups', label: 'Collaborator groups' },
      { to: '/invitations', label: 'Invitations' },
      { to: '/roles', label: 'Roles' },
      { to: '/projects', label: 'Projects' },
    ],
  },
  {
    section: 'Workspace',
    items: [
      { to: '/api-clients', label: 'API clients' },
      { to: '/scim-connections', label: 'SCIM connections' },
      { to: '/audit', label: 'Audit log' },
    ],
  },
];

const ROUTES: [string, (params: Record<string, string>) => ReactNode][] = [
  ['/', () => <DashboardPage />],
  ['/users', () => <UsersPage />],
  ['/users/:id', (p) => <UserDetailPage id={Number(p.id)} />],
  ['/groups', () => <GroupsPage />],
  ['/groups/:id', (p) => <GroupDetailPage id={Number(p.id)} />],
  ['/collaborators', () => <CollaboratorsPage />],
  ['/collaborator-groups', () => <CollaboratorGroupsPage />],
  ['/invitations', () => <InvitationsPage />],
  ['/roles', () => <RolesPage />],
  ['/projects', () => <ProjectsPage />],
  ['/projects/:id', (p) => <ProjectDetailPage id={Number(p.id)} />],
  ['/features', () => <FeaturesPage />],
  ['/features/:id', (p) => <FeatureDetailPage id={Number(p.id)} />],
  ['/approvals', () => <ApprovalsPage />],
  ['/agents', () => <AgentsPage />],
  ['/api-clients', () => <ApiClientsPage />],
  ['/scim-connections', () => <ScimConnectionsPage />],
  ['/audit', () => <AuditLogPage />],
  ['/access', () => <AccessExplorerPage />],
];

function Shell({ theme, onTheme }: { theme: Theme; onTheme: () => void }) {
  const { path } = useRouter();
  const { session, environment, setEnvironment, signOut } = useSession();
  let content: ReactNode = (
    <section className="page">
      <h1 id="page-title">Page not found</h1>
      <p>
        <Link to="/">Go to the dashboard</Link>
      </p>
    </section>
  );
  for (const [pattern, render] of ROUTES) {
    const params = match(pattern, path);
    if (params !== null) {
      content = render(params);
      break;
    }
  }
  // End users signed in to the console manage end users only: collaborators, projects, API
  // clients, SCIM connections and the audit log answer them 403 (docs/sso.md), so those sections
  // are not offered. Collaborators are managed with the DEV environment (as for API clients).
  const endUser = session.principal === 'end_user';
  const sections = NAV.filter((group) =>
    group.section === 'Collaborators'
      ? !endUser && session.environment_types.includes('dev')
      : group.section !== 'Workspace' || !endUser,
  );
  const current = (to: string) =>
    to === '/' ? path === '/' : path === to || path.startsWith(`${to}/`);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <aside className="sidebar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            R
          </span>
          <span>
            Roster
            <span className="muted brand-workspace">{session.workspace.name}</span>
          </span>
        </div>
        <nav aria-label="Main">
          {sections.map((group) => (
            <div key={group.section} className="nav-section">
              <h2 className="nav-heading">{group.section}</h2>
              <ul>
                {group.items.map((item) => (
                  <li key={item.to}>
                    <Link to={item.to} aria-current={current(item.to) ? 'page' : undefined}>
                      {item.label}
                    </Link>
                  </li>
                ))}
              </ul>
            </div>
          ))}
        </nav>
      </aside>
      <div className="main-column">
        <header className="topbar">
          <label className="env-picker">
            <span>Environment</span>
            <select
              value={environment}
              onChange={(e) => {
                setEnvironment(e.target.value);
              }}
            >
              {session.environment_types.map((env) => (
                <option key={env} value={env}>
                  {env.toUpperCase()}
                </option>
              ))}
            </select>
          </label>
          {session.access === 'read_only' && <span className="badge badge-amber">Read Only</span>}
          <div className="topbar-right">
            <button
              type="button"
              className="button button-ghost"
              onClick={onTheme}
              aria-pressed={theme === 'dark'}
            >
              {theme === 'dark' ? 'Light theme' : 'Dark theme'}
            </button>
            <span className="muted">{session.member.email}</span>
            <button type="button" className="button" onClick={signOut}>
              Sign out
            </button>
          </div>
        </header>
        <main id="main" tabIndex={-1}>
          {content}
        </main>
      </div>
    </div>
  );
}

function App() {
  const { path, navigate } = useRouter();
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const [session, setSession] = useState<ConsoleSession | null | undefined>(undefined);
  const [environment, setEnvironmentState] = useState<string>(
    () => localStorage.getItem('roster-environment') ?? 'dev',
  );
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem('roster-theme', theme);
  }, [theme]);
  const load = useCallback(() => {
    call('getSession').then(
      (result) => {
        setSession(result.data);
      },
      () => {
        setSession(null);
      },
    );
  }, []);
  useEffect(() => {
    setSignedOutHandler(() => {
      setSession(null);
    });
    load();
  }, [load]);
  const setEnvironment = (env: string) => {
    localStorage.setItem('roster-environment', env);
    setEnvironmentState(env);
  };
  const signOut = () => {
    void call('signOut').finally(() => {
      setSession(null);
      navigate('/sign-in');
    });
  };

  const invitation = match('/invitations/:token', path);
  if (invitation !== null && invitation.token !== undefined)
    return <AcceptInvitationPage token={invitation.token} />;
  if (path === '/setup') return <SetupPage />;
  if (session === undefined) return <p className="loading-screen">Loading…</p>;
  if (session === null || path === '/sign-in') {
    return (
      <SignInPage
        signedIn={session !== null}
        onSignedIn={(s) => {
          setSession(s);
          const next = new URLSearchParams(window.location.search).get('next');
          navigate(
            next !== null && next.startsWith('/') && !next.startsWith('//')
              ? next
              : path === '/sign-in'
                ? '/'
                : path,
          );
        }}
      />
    );
  }
  const env = session.environment_types.includes(environment)
    ? environment
    : (session.environment_types[0] ?? 'dev');
  return (
    <SessionContext.Provider value={{ session, environment: env, setEnvironment, signOut }}>
      <Shell
        theme={theme}
        onTheme={() => {
          setTheme(theme === 'dark' ? 'light' : 'dark');
        }}
      />
    </SessionContext.Provider>
  );
}

const root = document.getElementById('root');
if (root !== null) {
  createRoot(root).render(
    <StrictMode>
      <RouterProvider>
        <App />
      </RouterProvider>
    </StrictMode>,
  );
}
