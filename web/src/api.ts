// A typed client for the service's JSON API under /api/v1.0/. Every failure, including a
// network one, becomes an ApiError so callers handle a single shape.

// The bodies the service answers with are declared in Rust (crates/server/src/http/views.rs)
// and generated into ./generated: this file only adds what the wire does not say.
import type {
  AccessLevel,
  ApiErrorBody,
  Config,
  Consent,
  ConsentAnswer,
  ConsentDecision,
  Language,
  Layout,
  Mode,
  NewShareLink,
  Page,
  Recording,
  RecordingMessage,
  RecordingRequest,
  Room,
  RoomToken,
  ShareLink,
  User,
} from './generated';

export type * from './generated';

const BASE = '/api/v1.0/';

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
    // Checked, not trusted: a proxy in front of the service may answer an error of its own.
    const fields = (payload ?? {}) as Partial<Record<keyof ApiErrorBody, unknown>>;
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
  /** `redirect`: where the identity provider's session ends too, for a session signed in there. */
  logout: () => request<{ redirect: string } | undefined>('POST', 'auth/logout/'),
  me: () => request<User>('GET', 'users/me/'),
  setLanguage: (language: Language) => request<User>('PATCH', 'users/me/', { language }),
  config: () => request<Config>('GET', 'config/'),

  rooms: (page: number) => request<Page<Room>>('GET', `rooms/${query({ page, page_size: PAGE_SIZE })}`),
  createRoom: (name: string, accessLevel: AccessLevel) =>
    request<Room>('POST', 'rooms/', { name, access_level: accessLevel }),
  room: (idOrSlug: string) => request<Room>('GET', `rooms/${id(idOrSlug)}/`),
  setRoomConfiguration: (roomId: string, configuration: Record<string, unknown>) =>
    request<Room>('PATCH', `rooms/${id(roomId)}/`, { configuration }),
  roomToken: (roomId: string, guestName: string | null) =>
    request<RoomToken>('GET', `rooms/${id(roomId)}/token/${query({ name: guestName })}`),
  startRecording: (roomId: string, mode: Mode, layout: Layout | null) =>
    request<RecordingMessage>('POST', `rooms/${id(roomId)}/start-recording/`, {
      mode,
      ...(layout ? { layout } : {}),
    }),
  pauseRecording: (roomId: string, mode: Mode) =>
    request<RecordingMessage>('POST', `rooms/${id(roomId)}/pause-recording/`, { mode }),
  resumeRecording: (roomId: string, mode: Mode) =>
    request<RecordingMessage>('POST', `rooms/${id(roomId)}/resume-recording/`, { mode }),
  stopRecording: (roomId: string, mode: Mode) =>
    request<RecordingMessage>('POST', `rooms/${id(roomId)}/stop-recording/`, { mode }),
  answerConsent: (roomId: string, token: string, decision: ConsentDecision) =>
    request<ConsentAnswer>('POST', `rooms/${id(roomId)}/recording-consent/`, { token, decision }),
  requestRecording: (roomId: string, mode: Mode, guestName: string | null) =>
    request<RecordingRequest>('POST', `rooms/${id(roomId)}/request-recording/${query({ name: guestName })}`, {
      mode,
    }),

  recordings: (page: number) => request<Page<Recording>>('GET', `recordings/${query({ page, page_size: PAGE_SIZE })}`),
  recording: (recordingId: string) => request<Recording>('GET', `recordings/${id(recordingId)}/`),
  recordingConsents: (recordingId: string) =>
    request<Consent[]>('GET', `recordings/${id(recordingId)}/consents/`),
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
