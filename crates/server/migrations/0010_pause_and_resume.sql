-- Pause and resume: a paused recording's egress segment has ended and resuming starts the
-- next, written beside the first as `{folder}/{id}/part-{n}.{ext}`; the parts are joined
-- into the recording's one file when it ends. `segments` counts the egress segments
-- started, `paused_at` is when the current pause began, `paused_ms` the time paused before
-- it (the maximum duration and the duration shown count recorded time only).
ALTER TABLE recordings ADD COLUMN segments BIGINT NOT NULL DEFAULT 1;
ALTER TABLE recordings ADD COLUMN paused_at BIGINT NULL;
ALTER TABLE recordings ADD COLUMN paused_ms BIGINT NOT NULL DEFAULT 0;
-- A paused recording keeps its room locked for its mode.
DROP INDEX recordings_one_open_per_room_and_mode;
CREATE UNIQUE INDEX recordings_one_open_per_room_and_mode
    ON recordings (room_id, mode) WHERE status IN ('initiated', 'active', 'paused');
