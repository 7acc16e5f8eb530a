/** Locking or unlocking an end user, from the directory or the user's page. */
import { call, type EndUser } from '../api/client';
import { Alert, Modal } from '../components/ui';
import { useAction } from '../hooks/use-api';

export function LockDialog({
  user,
  onClose,
  onDone,
}: {
  user: Pick<EndUser, 'id' | 'name' | 'status'>;
  onClose: () => void;
  onDone: () => void;
}) {
  const { pending, error, run } = useAction();
  const locking = user.status !== 'locked';
  const confirm = async () => {
    const result = await run(() =>
      call(locking ? 'lockEndUser' : 'unlockEndUser', { params: { id: user.id } }),
    );
    if (result !== undefined) onDone();
  };
  return (
    <Modal
      title={locking ? `Lock ${user.name}?` : `Unlock ${user.name}?`}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            Cancel
          </button>
          <button
            type="button"
            className={`button ${locking ? 'button-danger' : 'button-primary'}`}
            disabled={pending}
            onClick={() => void confirm()}
          >
            {locking ? 'Lock user' : 'Unlock user'}
          </button>
        </>
      }
    >
      {error !== undefined && <Alert>{error}</Alert>}
      {locking ? (
        <p>
          Locking takes effect on the next access decision: every feature and tool is denied for{' '}
          {user.name}, whatever the policies say, and their AI agents can no longer act for them.
          Their groups, grants and history stay as they are for the investigation; unlocking
          restores them.
        </p>
      ) : (
        <p>
          Unlocking lets {user.name}’s groups, feature grants and policies apply again from the next
          decision.
        </p>
      )}
    </Modal>
  );
}
