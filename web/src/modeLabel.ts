import type { Config, Mode } from './api';
import type { Translate } from './i18n';

/**
 * What a mode is called. Without a transcription service the transcript mode makes no
 * transcript, only an audio file, and is called so.
 */
export function modeLabel(mode: Mode | 'both', recording: Config['recording'], t: Translate): string {
  if (mode === 'transcript' && !recording.transcription_service) return t('mode.audio');
  return t(`mode.${mode}`);
}
