// The vocabulary of recording statuses and the rules that turn two successive room states
// (as the recording-events stream sends them) into the events people are told about.

import type { Mode, RecordingState, RecordingStatus, RoomRecordingState } from './api';

/** Every mode once, in the order the app lists them (keys keep their written order): a
 * mode added on the server is a type error here until it has its place. */
const MODE_LIST: Record<Mode, true> = { screen_recording: true, transcript: true };
export const MODES: readonly Mode[] = Object.keys(MODE_LIST) as Mode[];

/**
 * The latest recording of one mode, as the recording-events stream describes it. Everyone
 * in the room gets it; the recording's `id` and its `error` text only its owners and
 * administrators.
 */
export type LiveRecording = RecordingState;

export type RoomRecordings = RoomRecordingState['recordings'];

export type RecordingStateEvent = RoomRecordingState;

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

/** The room may be being recorded (a failed stop may still be): the badge shows. */
export function mayBeRecording(recording: LiveRecording): boolean {
  return recording.may_be_recording;
}

/** A host may stop it. */
export function isStoppable(recording: LiveRecording): boolean {
  return recording.stoppable;
}

/** The modes the room may be being recorded in: the badge, and the panel's Stop. */
export function openModes(recordings: RoomRecordings): Mode[] {
  return MODES.filter((mode) => {
    const recording = recordings[mode];
    return recording !== undefined && mayBeRecording(recording);
  });
}

/** Time recorded so far, pauses left out (`now` in ms). */
export function recordedMs(recording: LiveRecording, now: number): number {
  if (!recording.started_at) return 0;
  const until = recording.paused_at ? Date.parse(recording.paused_at) : now;
  return Math.max(0, until - Date.parse(recording.started_at) - recording.paused_ms);
}

/** Whether two states describe the same recording (not just the same mode). */
export function sameRecording(a: LiveRecording, b: LiveRecording): boolean {
  return a.ref === b.ref;
}

export type TransitionKind = 'started' | 'paused' | 'resumed' | 'stopped' | 'limit' | 'failed';

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
    } else if (next.status === 'paused') {
      if (!(same && previous.status === 'paused')) kind = 'paused';
    } else if (next.status === 'active') {
      if (same && previous.status === 'paused') kind = 'resumed';
      else if (!(same && previous.status === 'active')) kind = 'started';
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
