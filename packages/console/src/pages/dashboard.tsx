/**
 * Counts, recent changes, and a chart of sign-ins, decisions and the MCP gateway's tool calls over
 * the last 14 days (from the audit log: `console.signed_in`, `end_user.decision`,
 * `agent.tool_call`), counted per day by the server (GET /api/audit_events/activity), so the
 * chart is exact whatever the volume.
 */
import { useEffect, useState } from 'react';
import { call } from '../api/client';
import { Alert, RelativeTime, Page } from '../components/ui';
import { useApi } from '../hooks/use-api';
import { Link } from '../router';
import { useSession } from '../session';

const DAYS = 14;

function Count({ label, value, to }: { label: string; value: number | undefined; to: string }) {
  return (
    <Link to={to} className="stat">
      <span className="stat-value">{value ?? '…'}</span>
      <span className="stat-label">{label}</span>
    </Link>
  );
}

function dayKey(date: Date): string {
  return date.toISOString().slice(0, 10);
}

function ActivityChart() {
  const [series, setSeries] = useState<
    { day: string; signIns: number; decisions: number; toolCalls: number }[] | undefined
  >();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    const start = new Date();
    start.setUTCHours(0, 0, 0, 0);
    start.setUTCDate(start.getUTCDate() - (DAYS - 1));
    const since = start.toISOString();
    call('getAuditActivity', {
      query: {
        // The gateway's decisions are recorded as tool calls, not as end_user.decision events.
        action: ['console.signed_in', 'end_user.decision', 'agent.tool_call'],
        since,
        bucket: 'day',
      },
    }).then(
      (result) => {
        const count = (action: string, day: string) =>
          result.data.find((b) => b.action === action && b.start.slice(0, 10) === day)?.count ?? 0;
        const days = Array.from({ length: DAYS }, (_, i) =>
          dayKey(new Date(start.getTime() + i * 86_400_000)),
        );
        setSeries(
          days.map((day) => ({
            day,
            signIns: count('console.signed_in', day),
            decisions: count('end_user.decision', day),
            toolCalls: count('agent.tool_call', day),
          })),
        );
      },
      (caught: unknown) => {
        setError(caught instanceof Error ? caught.message : String(caught));
      },
    );
  }, []);
  if (error !== undefined) return <Alert>{error}</Alert>;
  if (series === undefined) return <p>Loading…</p>;
  const max = Math.max(1, ...series.map((d) => Math.max(d.signIns, d.decisions, d.toolCalls)));
  const width = 640;
  const height = 180;
  const band = width / series.length;
  const bar = (band - 6) / 3;
  const total = series.reduce((sum, d) => sum + d.signIns + d.decisions + d.toolCalls, 0);
  return (
    <figure className="chart">
      <svg
        viewBox={`0 0 ${width} ${height + 24}`}
        role="img"
        aria-labelledby="chart-title chart-desc"
      >
        <title id="chart-title">
          Sign-ins and access decisions per day, with agents’ tool calls, last {DAYS} days
        </title>
        <desc id="chart-desc">
          {series
            .filter((d) => d.signIns + d.decisions + d.toolCalls > 0)
            .map(
              (d) =>
                `${d.day}: ${d.signIns} sign-ins, ${d.decisions} decisions, ${d.toolCalls} tool calls`,
            )
            .join('; ') || 'No activity'}
        </desc>
        {[0.25, 0.5, 0.75, 1].map((f) => (
          <line
            key={f}
            x1={0}
            x2={width}
            y1={height - f * height}
            y2={height - f * height}
            className="gridline"
          />
        ))}
        {series.map((d, i) => {
          const x = i * band + 3;
          const h1 = (d.signIns / max) * (height - 10);
          const h2 = (d.decisions / max) * (height - 10);
          const h3 = (d.toolCalls / max) * (height - 10);
          return (
            <g key={d.day}>
              <rect x={x} y={height - h1} width={bar} height={h1} className="bar-signins" rx={2} />
              <rect
                x={x + bar}
                y={height - h2}
                width={bar}
                height={h2}
                className="bar-decisions"
                rx={2}
              />
              <rect
                x={x + 2 * bar}
                y={height - h3}
                width={bar}
                height={h3}
                className="bar-toolcalls"
                rx={2}
              />
              {i % 2 === 0 && (
                <text x={x + 1.5 * bar} y={height + 16} textAnchor="middle" className="axis">
                  {d.day.slice(5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption>
        <span className="legend legend-signins">Sign-ins</span>{' '}
        <span className="legend legend-decisions">Access decisions</span>{' '}
        <span className="legend legend-toolcalls">Tool calls</span>
        <span className="muted">
          {' '}
          · {total} events, busiest day {max}
        </span>
      </figcaption>
    </figure>
  );
}

export function DashboardPage() {
  const { environment, session } = useSession();
  // End users signed in to the console get 403 for collaborators, projects and the audit log:
  // those cards are left out rather than shown as errors (`null` skips the call).
  const collaborator = session.principal !== 'end_user';
  const one = { 'page[size]': 1 };
  const users = useApi('listEndUsers', { query: one });
  const locked = useApi('listEndUsers', { query: { ...one, status: 'locked' } });
  const groups = useApi('listEndUserGroups', { query: { ...one, environment_type: environment } });
  const features = useApi('listFeatures', { query: { ...one, environment_type: environment } });
  const members = useApi('listMembers', collaborator ? { query: one } : null);
  const projects = useApi('listProjects', collaborator ? { query: one } : null);
  const approvals = useApi('listApprovals', { query: { ...one, status: 'pending' } });
  const invitations = useApi(
    'listInvitations',
    collaborator ? { query: { ...one, status: 'pending' } } : null,
  );
  const recent = useApi('listAuditEvents', collaborator ? { query: { 'page[size]': 8 } } : null);
  return (
    <Page
      title="Dashboard"
      description={`Welcome, ${session.member.name}. ${session.workspace.name} at a glance.`}
    >
      <div className="stats">
        <Count label="End users" value={users.data?.total} to="/users" />
        <Count label="Locked users" value={locked.data?.total} to="/users" />
        <Count
          label={`Groups in ${environment.toUpperCase()}`}
          value={groups.data?.total}
          to="/groups"
        />
        <Count
          label={`Features in ${environment.toUpperCase()}`}
          value={features.data?.total}
          to="/features"
        />
        <Count label="Pending approvals" value={approvals.data?.total} to="/approvals" />
        {collaborator && (
          <>
            <Count label="Collaborators" value={members.data?.total} to="/collaborators" />
            <Count label="Pending invitations" value={invitations.data?.total} to="/invitations" />
            <Count label="Projects" value={projects.data?.total} to="/projects" />
          </>
        )}
      </div>
      {collaborator && (
        <div className="grid-2 grid-wide-left">
          <section className="card" aria-labelledby="activity-heading">
            <h2 id="activity-heading">Activity</h2>
            <ActivityChart />
          </section>
          <section className="card" aria-labelledby="recent-heading">
            <h2 id="recent-heading">Recent changes</h2>
            {recent.error !== undefined && <Alert>{recent.error}</Alert>}
            <ol className="timeline">
              {(recent.data?.data ?? []).map((e) => (
                <li key={e.id}>
                  <span className="mono">{e.action}</span>
                  <span className="muted">
                    {' '}
                    by {e.actor.name ?? e.actor.type} · <RelativeTime iso={e.created_at} />
                  </span>
                </li>
              ))}
            </ol>
            <Link to="/audit">Open the audit log</Link>
          </section>
        </div>
      )}
    </Page>
  );
}
