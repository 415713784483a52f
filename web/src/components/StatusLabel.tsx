import type { RecordingStatus } from '../api';
import { useI18n } from '../hooks/useI18n';
import { SAVED_STATUSES, UNAVAILABLE_STATUSES } from '../recordingState';

function tone(status: RecordingStatus): string {
  if (SAVED_STATUSES.has(status)) return 'ok';
  if (UNAVAILABLE_STATUSES.has(status) || status === 'expired') return 'bad';
  return 'pending';
}

export function StatusLabel({ status }: { status: RecordingStatus }) {
  const { t } = useI18n();
  return (
    <span className={`status status-${tone(status)}`} data-status={status}>
      {t(`status.${status}`)}
    </span>
  );
}
