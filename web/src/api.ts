// A typed client for the service's JSON API under /api/v1.0/. Every failure, including a
// network one, becomes an ApiError so callers handle a single shape.

const BASE = '/api/v1.0/';

export type Language = 'en' | 'fr';
export type Mode = 'screen_recording' | 'transcript';
export type AccessLevel = 'public' | 'trusted' | 'restricted';
export type RecordingStatus =
  | 'initiated'
  | 'active'
  | 'stopped'
  | 'saved'
  | 'aborted'
  | 'failed_to_start'
  | 'failed_to_stop'
  | 'notification_succeeded'
  | 'external_process_successful'
  | 'external_process_failed'
  | 'failed'
  | 'expired';

export interface User {
  id: string;
  email: string;
  full_name: string;
  language: string;
  timezone: string;
}

export interface Config {
  recording: {
    is_enabled: boolean;
    available_modes: Mode[];
    expiration_days: number | null;
    max_duration: number | null;
    layouts: string[];
    default_layout: string | null;
  };
  livekit: { url: string };
  // Absent on older servers, which only ever speak to a real LiveKit.
  room_media?: 'livekit' | 'simulated';
  demo?: { email: string; password: string };
}

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

export interface Room {
  id: string;
  name: string;
  slug: string;
  access_level: AccessLevel;
  role: 'owner' | 'administrator' | 'member' | null;
  is_administrable: boolean;
}

export interface RoomToken {
  url: string;
  room: string;
  token: string;
}

export interface Recording {
  id: string;
  room: { id: string; name: string; slug: string };
  created_at: string;
  status: RecordingStatus;
  mode: Mode;
  layout: string | null;
  is_expired: boolean;
  expired_at: string | null;
  duration_ms: number | null;
  size_bytes: number | null;
  abilities: { retrieve: boolean; destroy: boolean; stop: boolean };
}

export interface StartedRecording {
  message: string;
  recording: Recording;
}

export interface ShareLink {
  id: string;
  created_at: string;
  expires_at: string | null;
  is_expired: boolean;
  revoked: boolean;
  revoked_at: string | null;
}

/** Only the create response carries the secret, once. */
export interface NewShareLink extends ShareLink {
  token: string;
  url?: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;

  constructor(status: number, code: string, detail: string) {
    super(detail);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.detail = detail;
  }
}

/** Status 0 marks a request that never got an answer. */
export const NETWORK_ERROR = 'network-error';

let onUnauthorized: (() => void) | null = null;

/** Tells the app when the server no longer knows the session (expired, signed out elsewhere). */
export function setUnauthorizedHandler(handler: (() => void) | null) {
  onUnauthorized = handler;
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(0, NETWORK_ERROR, error instanceof Error ? error.message : String(error));
  }
  if (response.status === 204) return undefined as T;
  const payload: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401) onUnauthorized?.();
    const fields = (payload ?? {}) as { code?: unknown; detail?: unknown };
    throw new ApiError(
      response.status,
      typeof fields.code === 'string' ? fields.code : `http-${response.status}`,
      typeof fields.detail === 'string' ? fields.detail : response.statusText,
    );
  }
  return payload as T;
}

function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

const id = encodeURIComponent;

/** Asked for explicitly so that pages can be counted from `count`. */
export const PAGE_SIZE = 20;

export const api = {
  login: (email: string, password: string) =>
    request<User>('POST', 'auth/login/', { email, password }),
  logout: () => request<void>('POST', 'auth/logout/'),
  me: () => request<User>('GET', 'users/me/'),
  setLanguage: (language: Language) => request<User>('PATCH', 'users/me/', { language }),
  config: () => request<Config>('GET', 'config/'),

  rooms: (page: number) => request<Page<Room>>('GET', `rooms/${query({ page, page_size: PAGE_SIZE })}`),
  createRoom: (name: string, accessLevel: AccessLevel) =>
    request<Room>('POST', 'rooms/', { name, access_level: accessLevel }),
  room: (idOrSlug: string) => request<Room>('GET', `rooms/${id(idOrSlug)}/`),
  roomToken: (roomId: string, guestName: string | null) =>
    request<RoomToken>('GET', `rooms/${id(roomId)}/token/${query({ name: guestName })}`),
  startRecording: (roomId: string, mode: Mode, layout: string | null) =>
    request<StartedRecording>('POST', `rooms/${id(roomId)}/start-recording/`, {
      mode,
      ...(layout ? { layout } : {}),
    }),
  stopRecording: (roomId: string, mode: Mode) =>
    request<unknown>('POST', `rooms/${id(roomId)}/stop-recording/`, { mode }),

  recordings: (page: number) => request<Page<Recording>>('GET', `recordings/${query({ page, page_size: PAGE_SIZE })}`),
  recording: (recordingId: string) => request<Recording>('GET', `recordings/${id(recordingId)}/`),
  deleteRecording: (recordingId: string) =>
    request<void>('DELETE', `recordings/${id(recordingId)}/`),

  shareLinks: (recordingId: string) =>
    request<Page<ShareLink>>('GET', `recordings/${id(recordingId)}/share-links/?page_size=100`),
  createShareLink: (recordingId: string, expiresInDays: number | null) =>
    request<NewShareLink>('POST', `recordings/${id(recordingId)}/share-links/`, {
      expires_in_days: expiresInDays,
    }),
  revokeShareLink: (recordingId: string, linkId: string) =>
    request<void>('DELETE', `recordings/${id(recordingId)}/share-links/${id(linkId)}/`),
};

export const urls = {
  recordingEvents: (roomId: string, guestName: string | null) =>
    `${BASE}rooms/${id(roomId)}/recording-events/${query({ name: guestName })}`,
  media: (recordingId: string, download = false) =>
    `${BASE}recordings/${id(recordingId)}/media/${download ? '?download=1' : ''}`,
};
