import { ApiError, NETWORK_ERROR } from './api';
import type { Translate } from './i18n';

/** What to tell a person about a failed request: the server's own words when it answered. */
export function errorText(error: unknown, t: Translate): string {
  if (error instanceof ApiError && error.code !== NETWORK_ERROR && error.detail) {
    return error.detail;
  }
  return t('error.network');
}
