import { useEffect, useRef, useState } from 'react';

import { type RecordingRequest, urls } from '../api';
import {
  type RecordingStateEvent,
  type RoomRecordings,
  type Transition,
  transitionsBetween,
} from '../recordingState';

export type StreamStatus = 'connecting' | 'open' | 'reconnecting';

export interface RecordingState {
  recordings: RoomRecordings;
  /** False until the first event: before it nothing is known about the room. */
  loaded: boolean;
  status: StreamStatus;
}

// EventSource retries network drops by itself but gives up on an HTTP error answer
// (a restart, a proxy timeout); this is how long we wait before opening a new one.
const RETRY_MS = [1_000, 3_000, 10_000, 30_000];

/**
 * Follows a room's recording state over server-sent events for as long as the caller is
 * mounted. The open connection also keeps a guest or member present in a simulated room,
 * so it must live as long as the room page. `onTransition` fires only for changes seen
 * after the first event, which describes the state the page arrived in.
 */
export function useRecordingState(
  roomId: string | null,
  guestName: string | null,
  onTransition: (transition: Transition) => void,
  onRequest: (request: RecordingRequest) => void = () => {},
): RecordingState {
  const [state, setState] = useState<RecordingState>({
    recordings: {},
    loaded: false,
    status: 'connecting',
  });
  const onTransitionRef = useRef(onTransition);
  useEffect(() => {
    onTransitionRef.current = onTransition;
  }, [onTransition]);
  const onRequestRef = useRef(onRequest);
  useEffect(() => {
    onRequestRef.current = onRequest;
  }, [onRequest]);

  useEffect(() => {
    if (!roomId) return;
    let source: EventSource | null = null;
    let retryTimer: number | undefined;
    let failures = 0;
    let last: RoomRecordings | null = null;
    // Requests already there when the page opened, or already told: not news.
    let seenRequests: Set<string> | null = null;

    const connect = () => {
      source = new EventSource(urls.recordingEvents(roomId, guestName));
      source.addEventListener('open', () => {
        failures = 0;
        setState((current) => ({ ...current, status: 'open' }));
      });
      source.addEventListener('recording-state', (event) => {
        let data: RecordingStateEvent;
        try {
          data = JSON.parse((event as MessageEvent<string>).data) as RecordingStateEvent;
        } catch {
          return;
        }
        const recordings = data.recordings ?? {};
        if (last) transitionsBetween(last, recordings).forEach((t) => onTransitionRef.current(t));
        const requests = data.requests ?? [];
        if (seenRequests) {
          for (const request of requests) {
            if (!seenRequests.has(request.id)) onRequestRef.current(request);
          }
        } else {
          seenRequests = new Set();
        }
        for (const request of requests) seenRequests.add(request.id);
        last = recordings;
        setState({ recordings, loaded: true, status: 'open' });
      });
      source.addEventListener('error', () => {
        setState((current) => ({ ...current, status: 'reconnecting' }));
        if (source?.readyState !== EventSource.CLOSED) return;
        const delay = RETRY_MS[Math.min(failures, RETRY_MS.length - 1)];
        failures += 1;
        retryTimer = window.setTimeout(connect, delay);
      });
    };

    setState({ recordings: {}, loaded: false, status: 'connecting' });
    connect();
    return () => {
      window.clearTimeout(retryTimer);
      source?.close();
    };
  }, [roomId, guestName]);

  return state;
}
