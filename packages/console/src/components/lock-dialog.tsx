/** Locking or unlocking an end user, from the directory or the user's page. */
import { call, type EndUser } from '../api/client';
import { ConfirmDialog } from './dialogs';
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
    <ConfirmDialog
      title={locking ? `Lock ${user.name}?` : `Unlock ${user.name}?`}
      confirmLabel={locking ? 'Lock user' : 'Unlock user'}
      tone={locking ? 'danger' : 'primary'}
      onConfirm={confirm}
      onCancel={onClose}
      pending={pending}
      error={error}
    >
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
    </ConfirmDialog>
  );
}
