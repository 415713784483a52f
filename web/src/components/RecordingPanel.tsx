import { useEffect, useId, useRef, useState } from 'react';

import {
  ApiError,
  type Config,
  type Layout,
  type Mode,
  type RecordingConsent,
  type Room,
  api,
} from '../api';
import { errorText } from '../errorText';
import { formatClock, formatLength } from '../format';
import { modeLabel } from '../modeLabel';
import { useI18n } from '../hooks/useI18n';
import { useNow } from '../hooks/useNow';
import type { Translate } from '../i18n';
import {
  MODES,
  type RoomRecordings,
  isStoppable,
  mayBeRecording,
  openModes,
  recordedMs,
} from '../recordingState';
import { Dialog } from './Dialog';

type Choice = Mode | 'both';
type Phase = 'idle' | 'starting' | 'active' | 'saving';

// LiveKit answers a start only once an egress worker takes it, and when none does it looks
// for one for about twenty seconds before it gives up: past this, say why nothing happens yet.
const SLOW_START_MS = 4_000;

interface RecordingPanelProps {
  room: Room;
  recording: Config['recording'];
  recordings: RoomRecordings;
  /** Whether the stream has told the room's state yet: until then starting is a guess. */
  loaded: boolean;
}

function layoutLabel(layout: string, t: Translate): string {
  const light = layout.endsWith('-light');
  const base = light ? layout.slice(0, -'-light'.length) : layout;
  const known: Record<string, string> = {
    speaker: t('layout.speaker'),
    grid: t('layout.grid'),
    'single-speaker': t('layout.single-speaker'),
  };
  const name = known[base] ?? base;
  return light ? t('layout.light', { layout: name }) : name;
}

/** The panel's element id: a request's toast brings focus here. */
export const RECORDING_PANEL_ID = 'recording-panel';

/** Start and stop controls for the room's owners and administrators. */
export function RecordingPanel({ room, recording, recordings, loaded }: RecordingPanelProps) {
  const { t } = useI18n();
  const roomId = room.id;
  const modes = MODES.filter((mode) => recording.available_modes.includes(mode));
  const choices: Choice[] = modes.length === 2 ? [...modes, 'both'] : modes;
  const [choice, setChoice] = useState<Choice>(choices[0] ?? 'screen_recording');
  const [layout, setLayout] = useState<Layout>(recording.default_layout);
  const [posting, setPosting] = useState(false);
  // Recordings this page started or stopped, until the stream shows the outcome: the
  // button must not flicker back to "Start" between the answer and the next event.
  const [awaitingStart, setAwaitingStart] = useState<string[]>([]);
  const [awaitingStop, setAwaitingStop] = useState<string[]>([]);
  const [failure, setFailure] = useState<{ title: string; detail: string } | null>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const legendId = useId();
  const layoutId = useId();

  const running = openModes(recordings);
  const inStream = (id: string) => MODES.some((mode) => recordings[mode]?.id === id);
  const openInStream = (id: string) =>
    MODES.some((mode) => {
      const live = recordings[mode];
      return live?.id === id && mayBeRecording(live);
    });

  let phase: Phase = 'idle';
  if (posting || awaitingStart.some((id) => !inStream(id))) phase = 'starting';
  else if (awaitingStop.some(openInStream)) phase = 'saving';
  else if (running.some((mode) => recordings[mode]?.status === 'initiated')) phase = 'starting';
  else if (running.length > 0) phase = 'active';

  const busy = phase === 'starting' || phase === 'saving' || !loaded;

  const [slowStart, setSlowStart] = useState(false);
  useEffect(() => {
    if (phase !== 'starting') return;
    const timer = window.setTimeout(() => setSlowStart(true), SLOW_START_MS);
    return () => {
      window.clearTimeout(timer);
      setSlowStart(false);
    };
  }, [phase]);

  // A disabled button drops focus to the page; give it back when the button is usable
  // again, unless the person has moved on meanwhile.
  const refocus = useRef(false);
  useEffect(() => {
    if (busy || !refocus.current) return;
    refocus.current = false;
    if (document.activeElement === document.body) buttonRef.current?.focus();
  }, [busy]);

  const start = async () => {
    const targets: Mode[] = choice === 'both' ? [...modes] : [choice];
    setPosting(true);
    const started: string[] = [];
    try {
      for (const mode of targets) {
        const answer = await api.startRecording(
          roomId,
          mode,
          mode === 'screen_recording' && layout ? layout : null,
        );
        started.push(answer.recording.id);
      }
    } catch (error) {
      setFailure({ title: t('panel.startFailed'), detail: errorText(error, t) });
    } finally {
      setAwaitingStart(started);
      setPosting(false);
    }
  };

  // Pause or resume every running mode that can: LiveKit Egress has no pause, so the
  // service ends the egress segment and starts the next one on resume.
  const paused = running.length > 0 && running.every((mode) => recordings[mode]?.status === 'paused');
  const [switching, setSwitching] = useState(false);
  const pauseOrResume = async () => {
    const wanted = paused ? 'paused' : 'active';
    const targets = running.filter((mode) => recordings[mode]?.status === wanted);
    setSwitching(true);
    try {
      for (const mode of targets) {
        await (paused ? api.resumeRecording(roomId, mode) : api.pauseRecording(roomId, mode));
      }
    } catch (error) {
      setFailure({
        title: t(paused ? 'panel.resumeFailed' : 'panel.pauseFailed'),
        detail: errorText(error, t),
      });
    } finally {
      setSwitching(false);
    }
  };

  const stop = async () => {
    const targets = running.filter((mode) => {
      const live = recordings[mode];
      return live !== undefined && isStoppable(live);
    });
    setAwaitingStop(targets.map((mode) => recordings[mode]?.id ?? ''));
    for (const mode of targets) {
      try {
        await api.stopRecording(roomId, mode);
      } catch (error) {
        // Already stopped elsewhere (another admin, the time limit): nothing went wrong.
        if (error instanceof ApiError && error.code === 'no-active-recording') continue;
        setFailure({ title: t('panel.stopFailed'), detail: errorText(error, t) });
        setAwaitingStop([]);
        return;
      }
    }
  };

  const label = {
    idle: t('panel.start'),
    starting: t('panel.starting'),
    active: t('panel.stop'),
    saving: t('panel.saving'),
  }[phase];

  return (
    <section
      className="card recording-panel"
      id={RECORDING_PANEL_ID}
      tabIndex={-1}
      aria-labelledby={titleId}
    >
      <h2 id={titleId}>{t('panel.title')}</h2>
      <fieldset className="choice-group" role="radiogroup" aria-labelledby={legendId}>
        <legend id={legendId}>{t('panel.what')}</legend>
        {choices.map((value) => (
          <label key={value} className="choice">
            <input
              type="radio"
              name={`${titleId}-what`}
              value={value}
              checked={choice === value}
              disabled={phase !== 'idle'}
              onChange={() => setChoice(value)}
            />
            {modeLabel(value, recording, t)}
          </label>
        ))}
      </fieldset>
      {modes.includes('transcript') && !recording.transcription_service && (
        <p className="muted">{t('panel.audioOnlyHelp')}</p>
      )}
      {recording.layouts.length > 0 && (
        <div className="field">
          <label htmlFor={layoutId}>{t('panel.layout')}</label>
          <select
            id={layoutId}
            value={layout}
            disabled={choice === 'transcript' || phase !== 'idle'}
            onChange={(event) => {
              const chosen = recording.layouts.find((value) => value === event.target.value);
              if (chosen) setLayout(chosen);
            }}
          >
            {recording.layouts.map((value) => (
              <option key={value} value={value}>
                {layoutLabel(value, t)}
              </option>
            ))}
          </select>
        </div>
      )}
      {recording.max_duration !== null && (
        <p className="muted">
          {t('panel.maxDuration', { duration: formatLength(recording.max_duration) })}
        </p>
      )}
      <button
        ref={buttonRef}
        type="button"
        className={`button ${phase === 'active' ? 'button-stop' : 'button-record'}`}
        disabled={busy}
        onClick={() => {
          refocus.current = true;
          void (phase === 'active' ? stop() : start());
        }}
      >
        {label}
      </button>
      {phase === 'active' && recording.can_pause && (
        <button
          type="button"
          className="button button-pause"
          disabled={switching}
          onClick={() => void pauseOrResume()}
        >
          {t(paused ? 'panel.resume' : 'panel.pause')}
        </button>
      )}
      {phase === 'active' && paused && <p className="muted">{t('panel.pausedHelp')}</p>}
      {/* Always there, so that screen readers announce the text when it appears. */}
      <p className="muted start-waiting" role="status" data-testid="recording-waiting">
        {phase === 'starting' && slowStart ? t('panel.waiting') : ''}
      </p>
      {phase === 'active' && recording.max_duration !== null && (
        <Countdown recordings={recordings} maxDuration={recording.max_duration} />
      )}
      <AutoRecordSettings room={room} modes={modes} recording={recording} />
      {failure && (
        <Dialog
          title={failure.title}
          onClose={() => setFailure(null)}
          returnFocus={buttonRef}
          actions={
            <button
              type="button"
              className="button button-primary"
              data-autofocus
              onClick={() => setFailure(null)}
            >
              {t('common.ok')}
            </button>
          }
        >
          <p>{failure.detail}</p>
        </Dialog>
      )}
    </section>
  );
}

type Configuration = Record<string, unknown>;

/** What a recording room asks of its participants (`recording_consent`). */
const CONSENTS: readonly RecordingConsent[] = ['off', 'notice', 'ask'];

function asConfiguration(value: Room['configuration']): Configuration {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Configuration)
    : {};
}

/** The modes a room's configuration records by itself (`auto_record`). */
function configuredModes(configuration: Configuration): Mode[] {
  const value = configuration.auto_record;
  return Array.isArray(value) ? MODES.filter((mode) => value.includes(mode)) : [];
}

/** The room's auto-record setting: each change is saved at once. */
function AutoRecordSettings({
  room,
  modes,
  recording,
}: {
  room: Room;
  modes: Mode[];
  recording: Config['recording'];
}) {
  const { t } = useI18n();
  // The room's whole configuration as last saved: clients may keep other settings in it.
  const [configuration, setConfiguration] = useState(() => asConfiguration(room.configuration));
  const [status, setStatus] = useState('');
  const legendId = useId();
  const visibilityId = useId();
  const consentId = useId();
  const chosen = configuredModes(configuration);
  const visibleToMembers = configuration.recordings_visible_to === 'members';
  const consent = CONSENTS.find((c) => c === configuration.recording_consent) ?? 'off';

  const save = async (change: Configuration) => {
    const previous = configuration;
    const next = { ...configuration, ...change };
    setConfiguration(next);
    setStatus('');
    try {
      const saved = await api.setRoomConfiguration(room.id, next);
      setConfiguration(asConfiguration(saved.configuration));
      setStatus(t('panel.autoSaved'));
    } catch (error) {
      setConfiguration(previous);
      setStatus(t('panel.autoFailed', { detail: errorText(error, t) }));
    }
  };

  return (
    <>
      <fieldset className="choice-group auto-record" aria-describedby={`${legendId}-help`}>
        <legend id={legendId}>{t('panel.auto')}</legend>
        {modes.map((mode) => (
          <label key={mode} className="choice">
            <input
              type="checkbox"
              checked={chosen.includes(mode)}
              onChange={(event) =>
                void save({
                  auto_record: MODES.filter((m) => (m === mode ? event.target.checked : chosen.includes(m))),
                })
              }
            />
            {modeLabel(mode, recording, t)}
          </label>
        ))}
        <p className="muted" id={`${legendId}-help`}>
          {t('panel.autoHelp')}
        </p>
      </fieldset>
      <div className="field">
        <label htmlFor={visibilityId}>{t('panel.visibleTo')}</label>
        <select
          id={visibilityId}
          value={visibleToMembers ? 'members' : 'owners'}
          onChange={(event) => void save({ recordings_visible_to: event.target.value })}
        >
          <option value="owners">{t('panel.visibleTo.owners')}</option>
          <option value="members">{t('panel.visibleTo.members')}</option>
        </select>
      </div>
      <div className="field">
        <label htmlFor={consentId}>{t('panel.consent')}</label>
        <select
          id={consentId}
          value={consent}
          onChange={(event) => void save({ recording_consent: event.target.value })}
        >
          {CONSENTS.map((value) => (
            <option key={value} value={value}>
              {t(`panel.consent.${value}`)}
            </option>
          ))}
        </select>
        {consent === 'ask' && <p className="muted">{t('panel.consentHelp')}</p>}
      </div>
      <p className="muted" role="status" data-testid="auto-record-status">
        {status}
      </p>
    </>
  );
}

/** Time until the earliest running recording hits the service's maximum duration. */
function Countdown({ recordings, maxDuration }: { recordings: RoomRecordings; maxDuration: number }) {
  const { t } = useI18n();
  const now = useNow(true);
  // The limit counts recorded time: a pause stops the clock.
  const recorded = MODES.map((mode) => recordings[mode])
    .filter((live) => (live?.status === 'active' || live?.status === 'paused') && live.started_at)
    .map((live) => (live ? recordedMs(live, now) : 0));
  if (recorded.length === 0) return null;
  const left = maxDuration - Math.max(...recorded);
  return (
    // A timer is not announced on every tick; people read it when they want to.
    <p className="countdown" role="timer" data-testid="recording-countdown">
      {t('panel.timeLeft', { time: formatClock(left) })}
    </p>
  );
}
