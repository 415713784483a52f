-- The durable job queue: work that must happen after a state change (confirming a file,
-- emailing owners) is enqueued in the same transaction, so a crash loses nothing.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    -- queued | running | done | dead
    status TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    locked_by TEXT,
    locked_until BIGINT,
    last_error TEXT,
    -- One job per purpose (e.g. one confirmation per recording): duplicates are not enqueued.
    dedupe_key TEXT UNIQUE,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (status, run_at);

-- Which owners were emailed about which recording, so a retried job never emails twice.
CREATE TABLE notifications_sent (
    recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (recording_id, user_id, kind)
);
