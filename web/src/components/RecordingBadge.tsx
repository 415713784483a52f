import { useI18n } from '../hooks/useI18n';
import { type RoomRecordings, openModes } from '../recordingState';

/** Tells everyone in the room, guests included, that they are being recorded. */
export function RecordingBadge({ recordings }: { recordings: RoomRecordings }) {
  const { t } = useI18n();
  const [first, ...others] = openModes(recordings);
  if (!first) return null;
  return (
    <p className="recording-badge" role="status" data-testid="recording-badge">
      <span className="recording-dot" aria-hidden="true" />
      {others.length > 0 ? t('badge.both') : t(`badge.${first}`)}
    </p>
  );
}
