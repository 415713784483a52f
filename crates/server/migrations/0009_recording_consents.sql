-- Participants' answers to a recording room's notice or question (`recording_consent`):
-- one per recording and LiveKit identity (a user id, or a guest's `guest-…` identity), the
-- latest answer kept. `consent` is the room's setting when they answered (`notice`, `ask`),
-- `name` the name they went by. Shown to the recording's owners; deleted with it.
CREATE TABLE recording_consents (
    recording_id TEXT NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    identity TEXT NOT NULL,
    name TEXT NOT NULL,
    consent TEXT NOT NULL,
    decision TEXT NOT NULL,
    decided_at BIGINT NOT NULL,
    PRIMARY KEY (recording_id, identity)
);

-- A copy of the room configuration's `recording_consent` (`off`, `notice`, `ask`), so a
-- recording's status change knows, in the same query, whether the room asks for consent.
ALTER TABLE rooms ADD COLUMN recording_consent TEXT NOT NULL DEFAULT 'off';
