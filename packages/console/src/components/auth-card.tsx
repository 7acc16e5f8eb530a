/** The card the signed-out screens (sign-in, setup, invitation) are shown in. */
import { useEffect, type ReactNode } from 'react';

export function AuthCard({
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
