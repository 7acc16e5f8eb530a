/** Approval requests of the chosen environment. */
import { useState } from 'react';
import { call, type ApprovalRequest } from '../../api/client';
import { Alert, Badge, Page, Person, RelativeTime, type Tone } from '../../components/ui';
import { StatusFilter } from '../../components/fields';
import { ListView, useListControls } from '../../components/list-view';
import { useAction, useApi } from '../../hooks/use-api';
import { useCanWrite } from '../../session';

const APPROVAL_TONE: Record<string, Tone> = {
  pending: 'amber',
  approved: 'green',
  rejected: 'red',
  used: 'grey',
};

export function ApprovalsPage() {
  const [status, setStatus] = useState('pending');
  const controls = useListControls();
  const list = useApi('listApprovals', {
    query: {
      status: status === 'all' ? undefined : status,
      ...controls.pageQuery,
    },
  });
  const canWrite = useCanWrite();
  const { pending, error, run } = useAction();
  const decide = async (request: ApprovalRequest, verdict: 'approve' | 'reject') => {
    const result = await run(() => call(verdict, { params: { id: request.id } }));
    if (result !== undefined) list.reload();
  };
  return (
    <Page
      title="Approvals"
      description="Calls that a Require approval policy held back. An approval is good for the one request."
    >
      <ListView
        list={controls.of(list)}
        toolbar={
          <StatusFilter
            statuses={['pending', 'approved', 'rejected', 'used', 'all']}
            value={status}
            onChange={(next) => {
              setStatus(next);
              controls.setPage(1);
            }}
          />
        }
        beforeTable={error !== undefined && <Alert>{error}</Alert>}
        caption="Approval requests"
        pagesLabel="Approvals"
        rowKey={(r) => r.id}
        empty={status === 'pending' ? 'Nothing waits for approval.' : 'No requests.'}
        columns={[
          {
            key: 'user',
            header: 'User',
            render: (r) => <Person name={r.end_user.name} email={r.end_user.email} />,
          },
          {
            key: 'feature',
            header: 'Feature',
            render: (r) => `${r.feature.name}${r.tool === null ? '' : ` · ${r.tool}`}`,
          },
          { key: 'env', header: 'Environment', render: (r) => r.environment_type.toUpperCase() },
          {
            key: 'status',
            header: 'Status',
            render: (r) => <Badge tone={APPROVAL_TONE[r.status]}>{r.status}</Badge>,
          },
          {
            key: 'created',
            header: 'Requested',
            render: (r) => <RelativeTime iso={r.created_at} />,
          },
          {
            key: 'actions',
            header: <span className="visually-hidden">Decide</span>,
            className: 'cell-actions',
            render: (r) =>
              canWrite &&
              r.status === 'pending' && (
                <span className="button-row">
                  <button
                    type="button"
                    className="button button-small button-primary"
                    disabled={pending}
                    onClick={() => void decide(r, 'approve')}
                  >
                    Approve
                  </button>
                  <button
                    type="button"
                    className="button button-small"
                    disabled={pending}
                    onClick={() => void decide(r, 'reject')}
                  >
                    Reject
                  </button>
                </span>
              ),
          },
        ]}
      />
    </Page>
  );
}
