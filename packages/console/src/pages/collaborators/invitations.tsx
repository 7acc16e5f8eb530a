/** Invitations of collaborators: inviting, resending and revoking. */
import { useState } from 'react';
import { ApiError, call, type Invitation } from '../../api/client';
import {
  Alert,
  Badge,
  OpenButton,
  Page,
  Person,
  RelativeTime,
  type Tone,
} from '../../components/ui';
import { StatusFilter, TextField } from '../../components/fields';
import { FormDialog } from '../../components/dialogs';
import { ListView, useListControls } from '../../components/list-view';
import { useAction, useApi } from '../../hooks/use-api';
import { useCanWrite, useSession } from '../../session';
import { EnvRolesEditor, NO_ACCESS, toEnvRoles } from '../../components/env-roles';

interface Notice {
  tone: 'success' | 'warning';
  text: string;
}

const INVITATION_TONE: Record<string, Tone> = {
  pending: 'amber',
  accepted: 'green',
  revoked: 'grey',
  expired: 'red',
};

export function InvitationsPage() {
  const canWrite = useCanWrite('dev');
  const [status, setStatus] = useState('pending');
  // A new search keeps the page (as it always has); a new status starts at page 1.
  const controls = useListControls(undefined, { searchKeepsPage: true });
  const email = controls.query;
  const [inviting, setInviting] = useState(false);
  const [form, setForm] = useState({ name: '', email: '' });
  // Nothing chosen means No access everywhere, as the API does for environments left out.
  const [roles, setRoles] = useState<Record<string, string>>({});
  const [notice, setNotice] = useState<Notice | undefined>();
  /** A pending invitation found for the email the dialog tried to invite again. */
  const [alreadyInvited, setAlreadyInvited] = useState<Invitation | null>(null);
  const { session } = useSession();
  // Say what happened to the mail: without SMTP it only reached the server's outbox file.
  const mailed = (what: string, email: string): Notice =>
    session.mail_delivery === 'smtp'
      ? { tone: 'success', text: `${what} mailed to ${email}.` }
      : {
          tone: 'warning',
          text: `${what} for ${email} created, but not mailed: no mail server is configured (ROSTER_SMTP_URL), so the mail was only written to the server’s outbox file.`,
        };
  const list = useApi('listInvitations', {
    query: {
      status: status === 'all' ? undefined : status,
      email,
      ...controls.pageQuery,
    },
  });
  const { pending, error, setError, run } = useAction();
  const closeDialog = () => {
    setInviting(false);
    setAlreadyInvited(null);
    setError(undefined);
  };
  const invite = async () => {
    setAlreadyInvited(null);
    // Every environment the dialog shows is sent, left-alone ones as No access (the API wants
    // at least one, and gives No access to the ones left out).
    const env_roles = toEnvRoles(
      Object.fromEntries(session.environment_types.map((env) => [env, roles[env] ?? NO_ACCESS])),
    );
    const result = await run(async () => {
      try {
        return await call('createInvitation', { body: { ...form, env_roles } });
      } catch (caught) {
        // 429 is also what inviting an email with a pending invitation answers: find it, so
        // the dialog can say so and offer to resend it.
        if (caught instanceof ApiError && caught.status === 429) {
          const found = await call('listInvitations', {
            query: { status: 'pending', email: form.email.trim(), 'page[size]': 100 },
          }).catch(() => undefined);
          const match = found?.data.find(
            (i) => i.email.toLowerCase() === form.email.trim().toLowerCase(),
          );
          if (match !== undefined) setAlreadyInvited(match);
        }
        throw caught;
      }
    });
    if (result !== undefined) {
      setInviting(false);
      setNotice(mailed('Invitation', form.email));
      setForm({ name: '', email: '' });
      setRoles({});
      list.reload();
    }
  };
  const act = async (id: number, action: 'resendInvitation' | 'revokeInvitation', text: Notice) => {
    const result = await run(() => call(action, { params: { id } }));
    if (result !== undefined) {
      setNotice(text);
      list.reload();
    }
    return result !== undefined;
  };
  const resendExisting = async (invitation: Invitation) => {
    if (
      await act(invitation.id, 'resendInvitation', mailed('New invitation link', invitation.email))
    )
      closeDialog();
  };
  return (
    <Page
      title="Invitations"
      description="Invitations to collaborate. A link works once and expires after 7 days."
      actions={
        <OpenButton show={canWrite} onOpen={setInviting}>
          Invite collaborator
        </OpenButton>
      }
    >
      <ListView
        list={controls.of(list)}
        searchLabel="Search by email"
        toolbar={
          <StatusFilter
            statuses={['pending', 'accepted', 'revoked', 'expired', 'all']}
            value={status}
            onChange={(next) => {
              setStatus(next);
              controls.setPage(1);
            }}
          />
        }
        beforeTable={
          <>
            {notice !== undefined && <Alert tone={notice.tone}>{notice.text}</Alert>}
            {error !== undefined && !inviting && <Alert>{error}</Alert>}
          </>
        }
        caption="Invitations"
        rowKey={(i) => i.id}
        empty={status === 'pending' ? 'No pending invitations.' : 'No invitations.'}
        columns={[
          {
            key: 'who',
            header: 'Invitee',
            render: (i) => <Person name={i.name} email={i.email} />,
          },
          {
            key: 'roles',
            header: 'Roles',
            render: (i) =>
              i.env_roles.map((r) => `${r.environment_type.toUpperCase()}: ${r.name}`).join(', '),
          },
          {
            key: 'status',
            header: 'Status',
            render: (i) => <Badge tone={INVITATION_TONE[i.status]}>{i.status}</Badge>,
          },
          { key: 'sent', header: 'Sent', render: (i) => <RelativeTime iso={i.created_at} /> },
          { key: 'expires', header: 'Expires', render: (i) => <RelativeTime iso={i.expires_at} /> },
          {
            key: 'actions',
            header: <span className="visually-hidden">Actions</span>,
            className: 'cell-actions',
            render: (i) =>
              canWrite &&
              i.status === 'pending' && (
                <span className="button-row">
                  <button
                    type="button"
                    className="button button-small"
                    disabled={pending}
                    onClick={() =>
                      void act(i.id, 'resendInvitation', mailed('New invitation link', i.email))
                    }
                  >
                    Resend
                  </button>
                  <button
                    type="button"
                    className="button button-small button-danger"
                    disabled={pending}
                    onClick={() =>
                      void act(i.id, 'revokeInvitation', {
                        tone: 'success',
                        text: `Invitation to ${i.email} revoked.`,
                      })
                    }
                  >
                    Revoke
                  </button>
                </span>
              ),
          },
        ]}
      />
      {inviting && (
        <FormDialog
          title="Invite collaborator"
          submitLabel="Send invitation"
          onSubmit={invite}
          onCancel={closeDialog}
          pending={pending}
        >
          {alreadyInvited !== null ? (
            <Alert tone="warning">
              <p>
                {alreadyInvited.email} is already invited: the invitation sent{' '}
                <RelativeTime iso={alreadyInvited.created_at} /> is pending. Resend it rather than
                inviting again.
              </p>
              {error !== undefined && <p className="muted">{error}</p>}
              <button
                type="button"
                className="button button-small"
                disabled={pending}
                onClick={() => void resendExisting(alreadyInvited)}
              >
                Resend invitation
              </button>
            </Alert>
          ) : (
            error !== undefined && <Alert>{error}</Alert>
          )}
          <TextField
            label="Name"
            required
            value={form.name}
            onChange={(name) => {
              setForm({ ...form, name });
            }}
          />
          <TextField
            label="Email address"
            type="email"
            required
            value={form.email}
            onChange={(email) => {
              setForm({ ...form, email });
            }}
          />
          <EnvRolesEditor value={roles} onChange={setRoles} />
        </FormDialog>
      )}
    </Page>
  );
}
