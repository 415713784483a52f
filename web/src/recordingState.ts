// The vocabulary of recording statuses and the rules that turn two successive room states
// (as the recording-events stream sends them) into the events people are told about.

import type { Mode, RecordingStatus } from './api';

export const MODES: readonly Mode[] = ['screen_recording', 'transcript'];

/**
 * The latest recording of one mode, as the recording-events stream describes it. Everyone
 * in the room gets it; the recording's `id` and its `error` text only its owners and
 * administrators.
 */
export interface LiveRecording {
  /** Owners and administrators only. */
  id?: string;
  /** An opaque key telling one recording from the next (older servers send only `id`). */
  ref?: string;
  status: RecordingStatus;
  layout: string | null;
  started_at: string | null;
  is_open: boolean;
  // Added to the stream later than the rest: older servers omit them.
  stop_reason?: 'limit' | null;
  /** The error's text: owners and administrators only. */
  error?: string | null;
  /** A stable code for what went wrong (`start-failed`, `recording-failed`, ...). */
  error_code?: string | null;
  /** The room may be being recorded (a failed stop may still be): the badge shows. */
  may_be_recording?: boolean;
  /** A host may stop it. */
  stoppable?: boolean;
}

export type RoomRecordings = Partial<Record<Mode, LiveRecording>>;

export interface RecordingStateEvent {
  room: string;
  recordings: RoomRecordings;
}

export const SAVED_STATUSES: ReadonlySet<RecordingStatus> = new Set<RecordingStatus>([
  'saved',
  'notification_succeeded',
  'external_process_successful',
  'external_process_failed',
]);

/** Statuses after which the recording will never have a file. */
export const UNAVAILABLE_STATUSES: ReadonlySet<RecordingStatus> = new Set<RecordingStatus>([
  'failed_to_start',
  'aborted',
  'failed',
]);

// failed_to_start is left out: whoever pressed start is told by the start dialog.
const FAILURE_STATUSES: ReadonlySet<RecordingStatus> = new Set<RecordingStatus>([
  'failed',
  'aborted',
  'failed_to_stop',
]);

export function isOpen(status: RecordingStatus): boolean {
  return status === 'initiated' || status === 'active';
}

/** What the server says; older servers send only the status. */
export function mayBeRecording(recording: LiveRecording): boolean {
  return recording.may_be_recording ?? isOpen(recording.status);
}

export function isStoppable(recording: LiveRecording): boolean {
  return recording.stoppable ?? recording.status === 'active';
}

/** The modes the room may be being recorded in: the badge, and the panel's Stop. */
export function openModes(recordings: RoomRecordings): Mode[] {
  return MODES.filter((mode) => {
    const recording = recordings[mode];
    return recording !== undefined && mayBeRecording(recording);
  });
}

/** Whether two states describe the same recording (not just the same mode). */
export function sameRecording(a: LiveRecording, b: LiveRecording): boolean {
  const keyA = a.ref ?? a.id;
  const keyB = b.ref ?? b.id;
  if (keyA !== undefined && keyB !== undefined) return keyA === keyB;
  return a.started_at === b.started_at;
}

export type TransitionKind = 'started' | 'stopped' | 'limit' | 'failed';

export interface Transition {
  kind: TransitionKind;
  mode: Mode;
  recording: LiveRecording;
}

/** What changed between two states of a room, one entry per mode at most. */
export function transitionsBetween(before: RoomRecordings, after: RoomRecordings): Transition[] {
  const found: Transition[] = [];
  for (const mode of MODES) {
    const next = after[mode];
    if (!next) continue;
    const previous = before[mode];
    const same = previous !== undefined && sameRecording(previous, next);
    let kind: TransitionKind | null = null;
    if (FAILURE_STATUSES.has(next.status)) {
      if (!(same && FAILURE_STATUSES.has(previous.status))) kind = 'failed';
    } else if (next.status === 'active') {
      if (!(same && previous.status === 'active')) kind = 'started';
    } else if (!mayBeRecording(next) && next.status !== 'failed_to_start') {
      // A recording never seen open (it began and ended between two events) still
      // ended live, but only if it ever ran.
      const ended = same ? mayBeRecording(previous) : next.started_at !== null;
      if (ended) kind = next.stop_reason === 'limit' ? 'limit' : 'stopped';
    }
    if (kind) found.push({ kind, mode, recording: next });
  }
  return found;
}
