/**
 * Approvals: the inbox of requests waiting for the signed-in approver (the default view), and
 * every request by status. Each shows its approver chain (who decides each step, who did and
 * when); an approver approves for one call or for N minutes, or rejects. The mail approvers get
 * links here with `?request=N`, which opens that request.
 */
import { useState } from 'react';
import { call, type ApprovalRequest, type ApprovalRequestStep } from '../../api/client';
import { Alert, Badge, Modal, Page, Person, RelativeTime, type Tone } from '../../components/ui';
import { ConfirmDialog, FormDialog } from '../../components/dialogs';
import { StatusFilter, TextField } from '../../components/fields';
import { ListView, useListControls } from '../../components/list-view';
import { useAction, useApi } from '../../hooks/use-api';
import { useRouter } from '../../router';
import { useCanWrite } from '../../session';

/**
 * The longest window the server grants (APPROVAL_WINDOW_MINUTES_MAX in @roster/contracts, which
 * the console imports types from only); past it the server answers a 400 that the dialog shows.
 */
const WINDOW_MINUTES_MAX = 1440;

const APPROVAL_TONE: Record<string, Tone> = {
  pending: 'amber',
  approved: 'green',
  rejected: 'red',
  used: 'grey',
  expired: 'grey',
};

/** The inbox first: what waits for me is what an approver opens this screen for. */
const VIEWS = ['waiting for me', 'pending', 'approved', 'rejected', 'used', 'expired', 'all'];

const what = (r: ApprovalRequest) => `${r.feature.name}${r.tool === null ? '' : ` · ${r.tool}`}`;

function approversText(step: ApprovalRequestStep): string {
  const names = [
    ...step.approvers.collaborators.map((c) => c.name),
    ...step.approvers.end_user_groups.map((g) => `${g.name} admins`),
  ];
  return names.length === 0 ? 'nobody' : names.join(', ');
}

/** "Step 1 of 2: Alice" while pending; the chain's outcome otherwise. */
function chainSummary(r: ApprovalRequest): string {
  if (r.steps.length === 0) return 'Any admin';
  const current = r.steps.find((s) => s.position === r.current_step);
  if (current !== undefined)
    return `Step ${current.position} of ${r.steps.length}: ${approversText(current)}`;
  const decided = r.steps.filter((s) => s.status !== 'pending').length;
  return `${decided} of ${r.steps.length} steps decided`;
}

function grantText(r: ApprovalRequest): string | null {
  if (r.scope === 'once') return 'for one call';
  if (r.scope === 'window' && r.window_ends_at !== null)
    return `for calls until ${new Date(r.window_ends_at).toLocaleString()}`;
  return null;
}

/** The chain of one request, step by step. */
function Chain({ request }: { request: ApprovalRequest }) {
  if (request.steps.length === 0) {
    return <p>No approver chain: any admin of {request.environment_type.toUpperCase()} decides.</p>;
  }
  return (
    <ol className="approval-chain" aria-label="Approver chain">
      {request.steps.map((step) => (
        <li key={step.position}>
          <strong>Step {step.position}</strong> · {approversText(step)}{' '}
          <Badge tone={APPROVAL_TONE[step.status]}>{step.status}</Badge>
          {step.decided_by !== null && (
            <>
              {' '}
              by {step.decided_by.name} <RelativeTime iso={step.decided_at} />
              {step.scope === 'window' && step.minutes !== null && ` (for ${step.minutes} minutes)`}
            </>
          )}
        </li>
      ))}
    </ol>
  );
}

function ApproveDialog({
  request,
  onClose,
  onDone,
}: {
  request: ApprovalRequest;
  onClose: () => void;
  onDone: () => void;
}) {
  const [scope, setScope] = useState<'once' | 'window'>('once');
  const [minutes, setMinutes] = useState('60');
  const { pending, error, run } = useAction();
  const submit = async () => {
    const result = await run(() =>
      call('approve', {
        params: { id: request.id },
        body: scope === 'once' ? { scope } : { scope, minutes: Number(minutes) },
      }),
    );
    if (result !== undefined) onDone();
  };
  return (
    <FormDialog
      title={`Approve request ${request.id}`}
      submitLabel="Approve"
      onSubmit={submit}
      onCancel={onClose}
      pending={pending}
      error={error}
    >
      <p>
        {request.end_user.name} asks to use {what(request)} in{' '}
        {request.environment_type.toUpperCase()}.
      </p>
      <fieldset>
        <legend>Allow</legend>
        <label className="check-row">
          <input
            type="radio"
            name="approval-scope"
            checked={scope === 'once'}
            onChange={() => {
              setScope('once');
            }}
          />
          One call
        </label>
        <label className="check-row">
          <input
            type="radio"
            name="approval-scope"
            checked={scope === 'window'}
            onChange={() => {
              setScope('window');
            }}
          />
          Every call for a while
        </label>
      </fieldset>
      {scope === 'window' && (
        <TextField
          label="Minutes"
          hint={`From 1 to ${WINDOW_MINUTES_MAX} (24 hours), starting when the request is approved.`}
          type="number"
          required
          value={minutes}
          onChange={setMinutes}
        />
      )}
    </FormDialog>
  );
}

function RejectDialog({
  request,
  onClose,
  onDone,
}: {
  request: ApprovalRequest;
  onClose: () => void;
  onDone: () => void;
}) {
  const { pending, error, run } = useAction();
  const confirm = async () => {
    const result = await run(() => call('reject', { params: { id: request.id } }));
    if (result !== undefined) onDone();
  };
  return (
    <ConfirmDialog
      title={`Reject request ${request.id}?`}
      confirmLabel="Reject"
      onConfirm={confirm}
      onCancel={onClose}
      pending={pending}
      error={error}
    >
      <p>
        {request.end_user.name}’s next call to {what(request)} is denied, naming this request; the
        call after that asks again.
      </p>
    </ConfirmDialog>
  );
}

type Dialog =
  | { kind: 'approve' | 'reject' | 'details'; request: ApprovalRequest }
  | { kind: 'linked'; id: number };

function Actions({
  request,
  onOpen,
  inDetails = false,
}: {
  request: ApprovalRequest;
  onOpen: (dialog: Dialog) => void;
  /** In the details dialog: no Details button to open what is open. */
  inDetails?: boolean;
}) {
  const canWrite = useCanWrite(request.environment_type);
  return (
    <span className="button-row">
      {!inDetails && (
        <button
          type="button"
          className="button button-small"
          onClick={() => {
            onOpen({ kind: 'details', request });
          }}
        >
          Details
        </button>
      )}
      {canWrite && request.status === 'pending' && (
        <>
          <button
            type="button"
            className="button button-small button-primary"
            onClick={() => {
              onOpen({ kind: 'approve', request });
            }}
          >
            Approve…
          </button>
          <button
            type="button"
            className="button button-small"
            onClick={() => {
              onOpen({ kind: 'reject', request });
            }}
          >
            Reject…
          </button>
        </>
      )}
    </span>
  );
}

function DetailsDialog({
  request,
  onClose,
  onOpen,
}: {
  request: ApprovalRequest;
  onClose: () => void;
  onOpen: (dialog: Dialog) => void;
}) {
  const grant = grantText(request);
  return (
    <Modal
      title={`Approval request ${request.id}`}
      onClose={onClose}
      wide
      footer={<Actions request={request} onOpen={onOpen} inDetails />}
    >
      <p>
        <Person name={request.end_user.name} email={request.end_user.email} /> asks to use{' '}
        {what(request)} in {request.environment_type.toUpperCase()}.
      </p>
      <p>
        <Badge tone={APPROVAL_TONE[request.status]}>{request.status}</Badge>
        {grant !== null && ` ${grant}`}
        {request.status === 'pending' && (
          <>
            {' '}
            · expires <RelativeTime iso={request.expires_at} />
          </>
        )}
      </p>
      <Chain request={request} />
    </Modal>
  );
}

/** The request a mailed link names: fetched on its own, whatever the list shows. */
function LinkedRequest({
  id,
  onClose,
  onOpen,
}: {
  id: number;
  onClose: () => void;
  onOpen: (dialog: Dialog) => void;
}) {
  const request = useApi('getApproval', { params: { id } });
  if (request.data === undefined) {
    return request.error === undefined ? null : (
      <Modal title={`Approval request ${id}`} onClose={onClose}>
        <Alert>{request.error}</Alert>
      </Modal>
    );
  }
  return <DetailsDialog request={request.data.data} onClose={onClose} onOpen={onOpen} />;
}

export function ApprovalsPage() {
  const { search, navigate } = useRouter();
  const linked = Number(new URLSearchParams(search).get('request'));
  const [view, setView] = useState('waiting for me');
  const [dialog, setDialog] = useState<Dialog | undefined>(
    Number.isInteger(linked) && linked > 0 ? { kind: 'linked', id: linked } : undefined,
  );
  const controls = useListControls();
  const list = useApi('listApprovals', {
    query: {
      awaiting: view === 'waiting for me' ? 'me' : undefined,
      status: view === 'all' || view === 'waiting for me' ? undefined : view,
      ...controls.pageQuery,
    },
  });
  const close = () => {
    setDialog(undefined);
    if (search !== '') navigate('/approvals');
  };
  const done = () => {
    close();
    list.reload();
  };
  return (
    <Page
      title="Approvals"
      description="Calls that a Require approval policy held back. Approve one call or every call for some minutes; each step of a chain is decided by its own approvers."
    >
      <ListView
        list={controls.of(list)}
        toolbar={
          <StatusFilter
            statuses={VIEWS}
            value={view}
            onChange={(next) => {
              setView(next);
              controls.setPage(1);
            }}
          />
        }
        caption="Approval requests"
        pagesLabel="Approvals"
        rowKey={(r) => r.id}
        empty={view === 'waiting for me' ? 'Nothing waits for you.' : 'No requests.'}
        columns={[
          {
            key: 'user',
            header: 'User',
            render: (r) => <Person name={r.end_user.name} email={r.end_user.email} />,
          },
          { key: 'feature', header: 'Feature', render: what },
          { key: 'env', header: 'Environment', render: (r) => r.environment_type.toUpperCase() },
          {
            key: 'status',
            header: 'Status',
            render: (r) => <Badge tone={APPROVAL_TONE[r.status]}>{r.status}</Badge>,
          },
          { key: 'chain', header: 'Approvers', render: chainSummary },
          {
            key: 'created',
            header: 'Requested',
            render: (r) => <RelativeTime iso={r.created_at} />,
          },
          {
            key: 'actions',
            header: <span className="visually-hidden">Decide</span>,
            className: 'cell-actions',
            render: (r) => <Actions request={r} onOpen={setDialog} />,
          },
        ]}
      />
      {dialog?.kind === 'linked' && (
        <LinkedRequest id={dialog.id} onClose={close} onOpen={setDialog} />
      )}
      {dialog?.kind === 'details' && (
        <DetailsDialog request={dialog.request} onClose={close} onOpen={setDialog} />
      )}
      {dialog?.kind === 'approve' && (
        <ApproveDialog request={dialog.request} onClose={close} onDone={done} />
      )}
      {dialog?.kind === 'reject' && (
        <RejectDialog request={dialog.request} onClose={close} onDone={done} />
      )}
    </Page>
  );
}
