-- Participants without rights asking the room's hosts for a recording. `requester` is who
-- asked, for the rate limit (a user id, or `guest:` and the client's address); the name is
-- what hosts are shown. Kept a day (pruned with the handled webhook ids).
CREATE TABLE recording_requests (
    id TEXT PRIMARY KEY,
    room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    mode TEXT NOT NULL,
    requester TEXT NOT NULL,
    requester_name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX recording_requests_room ON recording_requests (room_id, created_at);
CREATE INDEX recording_requests_requester ON recording_requests (requester, room_id, created_at);
