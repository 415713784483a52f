import { useI18n } from '../hooks/useI18n';
import { type RoomRecordings, openModes } from '../recordingState';

/** Tells everyone in the room, guests included, that they are being recorded. */
export function RecordingBadge({ recordings }: { recordings: RoomRecordings }) {
  const { t } = useI18n();
  const open = openModes(recordings);
  const [first, ...others] = open;
  if (!first) return null;
  // Paused only when nothing records: one mode paused while the other runs is recording.
  const paused = open.every((mode) => recordings[mode]?.status === 'paused');
  let text = others.length > 0 ? t('badge.both') : t(`badge.${first}`);
  if (paused) text = t('badge.paused');
  return (
    <p className={paused ? 'recording-badge paused' : 'recording-badge'} role="status" data-testid="recording-badge">
      <span className="recording-dot" aria-hidden="true" />
      {text}
    </p>
  );
}
