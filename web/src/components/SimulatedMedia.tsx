import { useI18n } from '../hooks/useI18n';

/**
 * The development emulator has no media server: presence in its room comes from the
 * recording-events connection the room page holds open, so there is nothing to join here.
 */
export function SimulatedMedia({ name }: { name: string }) {
  const { t } = useI18n();
  return (
    <div className="simulated-media" data-testid="simulated-media">
      <div className="simulated-avatar" aria-hidden="true">
        {name.trim().charAt(0).toUpperCase() || '?'}
      </div>
      <p className="simulated-title">{t('room.simulated')}</p>
      <p>{t('room.joinedAs', { name })}</p>
      <p className="muted">{t('room.simulatedNote')}</p>
    </div>
  );
}
