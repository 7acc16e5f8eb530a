/**
 * The console session says how the server delivers mail (`mail_delivery`), so the invitations
 * screen can tell "mailed" from "only written to the outbox file". The invitation response itself
 * stays the reference API's `{"result":"ok"}`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Roster } from '../helpers/roster.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, signIn, startConsoleRoster } from '../e2e/helpers.js';

const CONSOLE = { ROSTER_ADMIN_EMAIL: ADMIN_EMAIL, ROSTER_ADMIN_PASSWORD: ADMIN_PASSWORD };
let roster: Roster | undefined;

afterEach(async () => {
  await roster?.close();
  roster = undefined;
});

describe('GET /api/console/session mail_delivery', () => {
  it('is outbox without ROSTER_SMTP_URL, and the invitation only reaches the outbox file', async () => {
    roster = await startConsoleRoster({ console: CONSOLE });
    const session = await signIn(roster, ADMIN_EMAIL, ADMIN_PASSWORD);
    expect(session.signIn.body.data.mail_delivery).toBe('outbox');
    const me = await session.request('GET', '/api/console/session');
    expect(me.body.data.mail_delivery).toBe('outbox');

    const invited = await session.request('POST', '/api/member_invitations', {
      body: {
        name: 'Olive',
        email: 'olive@example.com',
        env_roles: [{ environment_type: 'dev', name: 'Analyst' }],
      },
    });
    expect(invited.status).toBe(200);
    expect(invited.body.result).toBe('ok');
    expect(invited.body).not.toHaveProperty('mail_delivery');
    expect((await roster.outbox()).map((m) => m.to)).toContain('olive@example.com');
  });

  it('is smtp when ROSTER_SMTP_URL is set', async () => {
    roster = await startConsoleRoster({
      console: CONSOLE,
      // Nothing is mailed in this test; the URL only has to be configured.
      env: { ROSTER_SMTP_URL: 'smtp://127.0.0.1:2525' },
    });
    const session = await signIn(roster, ADMIN_EMAIL, ADMIN_PASSWORD);
    expect(session.signIn.body.data.mail_delivery).toBe('smtp');
    expect((await session.request('GET', '/api/console/session')).body.data.mail_delivery).toBe(
      'smtp',
    );
  });
});
